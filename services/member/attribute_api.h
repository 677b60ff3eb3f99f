/* attribute_api.h - custom attributes' definitions and member ranks: the methods, and the
   checks of a member's attribute values against the definitions */
#ifndef KAIIN_ATTRIBUTE_API_H
#define KAIIN_ATTRIBUTE_API_H
#include "member.pb-c.h"
#include "svc.h"
#include <jansson.h>
#include <stdbool.h>

/* member.AttributeList, member.AttributeDefine, member.RankList, member.RankCreate: owners
   and admins only (the SETTINGS permission). */
int attribute_api_list (svc_request_t *request, svc_reply_t *reply);
int attribute_api_define (svc_request_t *request, svc_reply_t *reply);
int attribute_api_ranks (svc_request_t *request, svc_reply_t *reply);
int attribute_api_add_rank (svc_request_t *request, svc_reply_t *reply);

/* Checks values (a JSON object, borrowed) against the definitions: an unknown key, a value of
   the wrong type or an option not in the list adds a field error "attributes.<key>". null
   removes a value (a patch), which a required attribute refuses; creating, every required
   attribute must have a value. */
void attribute_api_check (svc_reply_t *reply, const Kaiin__Member__AttributeListReply *definitions,
                          json_t *values, bool creating);

/* Builds the JSON object a member's attributes must contain to pass filters, reading each
   value by its attribute's type. Returns a new string the caller frees, or NULL after adding
   field errors "attr.<key>". */
char *attribute_api_filter (svc_reply_t *reply, const Kaiin__Member__AttributeListReply *definitions,
                            Kaiin__Member__AttributeFilter *const *filters, size_t count);

#endif
