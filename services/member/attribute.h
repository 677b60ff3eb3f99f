/* attribute.h - what the business defines for its member record: custom attributes (table
   member_attributes) and ranks (member_ranks), their methods, and the checks of a member's
   attribute values against the definitions */
#ifndef KAIIN_ATTRIBUTE_H
#define KAIIN_ATTRIBUTE_H
#include "member.h"
#include <jansson.h>
#include <stdbool.h>

void attribute_prepare (pg_t *db);

/* member.AttributeList, member.AttributeDefine, member.RankList, member.RankCreate: owners
   and admins only (member.settings). */
svc_handler_fn attribute_api_list, attribute_api_define, attribute_api_ranks, attribute_api_add_rank;

/* Every attribute definition (every rank), oldest first: a new message the caller frees with
   protobuf_c_message_free_unpacked, or NULL on a database error. */
Kaiin__Member__AttributeListReply *attribute_definitions (pg_t *db);
Kaiin__Member__RankListReply *attribute_ranks (pg_t *db);

/* 1 when code is one of the ranks, 0 when not, -1 on a database error. */
int attribute_rank_exists (pg_t *db, const char *code);

/* Checks values (a JSON object, borrowed) against the definitions: an unknown key, a value of
   the wrong type or an option not in the list adds a field error "attributes.<key>". null
   removes a value (a patch), which a required attribute refuses; creating, every required
   attribute must have a value. */
void attribute_check (svc_reply_t *reply, const Kaiin__Member__AttributeListReply *definitions,
                      json_t *values, bool creating);

/* Builds the JSON object a member's attributes must contain to pass filters, reading each
   value by its attribute's type. Returns a new string the caller frees, or NULL after adding
   field errors "attr.<key>". */
char *attribute_filter (svc_reply_t *reply, const Kaiin__Member__AttributeListReply *definitions,
                        Kaiin__Member__AttributeFilter *const *filters, size_t count);

#endif
