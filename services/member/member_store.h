/* member_store.h - all of the member service's SQL: the members table and its events */
#ifndef KAIIN_MEMBER_STORE_H
#define KAIIN_MEMBER_STORE_H
#include "member.pb-c.h"
#include "audit.h"
#include "pg.h"
#include <stdint.h>

typedef enum {
    MEMBER_STORE_OK = 0,
    MEMBER_STORE_ERROR = -1,        /* database error: see pg_sqlstate / pg_lost */
    MEMBER_STORE_NOT_FOUND = 1,
    MEMBER_STORE_DUPLICATE = 2,     /* another member has this email */
    MEMBER_STORE_STALE = 3,         /* if_version does not match */
    MEMBER_STORE_WITHDRAWN = 4      /* already withdrawn */
} member_store_rc_t;

/* Prepares the statements on a worker's connection. Returns 0 or -1. */
int member_store_prepare (pg_t *db);

/* Each fills *member (freed with member_store_clear) on MEMBER_STORE_OK. Writes append their
   event to the outbox and their entry to the audit log in the same transaction. */
member_store_rc_t member_store_create (pg_t *db, const Kaiin__Member__CreateRequest *request,
                                       const audit_actor_t *actor, Kaiin__Member__Member *member);
member_store_rc_t member_store_get (pg_t *db, const char *id, Kaiin__Member__Member *member);
member_store_rc_t member_store_update (pg_t *db, const Kaiin__Member__UpdateRequest *request,
                                       const audit_actor_t *actor, Kaiin__Member__Member *member);
member_store_rc_t member_store_withdraw (pg_t *db, const Kaiin__Member__WithdrawRequest *request,
                                         const audit_actor_t *actor, Kaiin__Member__Member *member);

/* Fills reply with up to limit members after the position after_seq (0: from the start),
   filtered by status and email when not empty; *last_seq is the last one's position, and
   *more says whether others follow. Members are freed with member_store_clear_list. */
member_store_rc_t member_store_list (pg_t *db, int64_t after_seq, int limit, const char *status,
                                     const char *email, Kaiin__Member__ListReply *reply,
                                     int64_t *last_seq, int *more);

void member_store_clear (Kaiin__Member__Member *member);
void member_store_clear_list (Kaiin__Member__ListReply *reply);

#endif
