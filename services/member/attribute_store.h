/* attribute_store.h - what the business defines for its member record: custom attributes'
   definitions and member ranks (tables member_attributes and member_ranks) */
#ifndef KAIIN_ATTRIBUTE_STORE_H
#define KAIIN_ATTRIBUTE_STORE_H
#include "audit.h"
#include "member.pb-c.h"
#include "member_store.h"
#include "pg.h"

/* Prepares the statements on a worker's connection. Returns 0 or -1. */
int attribute_store_prepare (pg_t *db);

/* Fills reply with every attribute definition, oldest first (freed with
   attribute_store_clear_list). Returns MEMBER_STORE_OK or MEMBER_STORE_ERROR. */
member_store_rc_t attribute_store_list (pg_t *db, Kaiin__Member__AttributeListReply *reply);
void attribute_store_clear_list (Kaiin__Member__AttributeListReply *reply);

/* Adds a definition, with its audit entry, in one transaction; sets definition->created_at_ms.
   Returns MEMBER_STORE_OK, MEMBER_STORE_DUPLICATE (the key exists) or MEMBER_STORE_ERROR. */
member_store_rc_t attribute_store_define (pg_t *db, Kaiin__Member__AttributeDefinition *definition,
                                          const audit_actor_t *actor);

/* Fills reply with every rank, oldest first (freed with attribute_store_clear_ranks). */
member_store_rc_t attribute_store_ranks (pg_t *db, Kaiin__Member__RankListReply *reply);
void attribute_store_clear_ranks (Kaiin__Member__RankListReply *reply);

/* Adds a rank, with its audit entry; sets rank->created_at_ms. Returns MEMBER_STORE_OK,
   MEMBER_STORE_DUPLICATE or MEMBER_STORE_ERROR. */
member_store_rc_t attribute_store_add_rank (pg_t *db, Kaiin__Member__Rank *rank,
                                            const audit_actor_t *actor);

#endif
