/* member_api.h - the member methods: validate, call the store, build the reply */
#ifndef KAIIN_MEMBER_API_H
#define KAIIN_MEMBER_API_H
#include "svc.h"
#include <stdbool.h>
#include <stdint.h>

/* Each serves one method of the member service (see proto/member.proto). Create and Update
   refuse status and rank from roles other than owner and admin (PERMISSION_DENIED naming the
   field); Tag needs a role that may tag (owner, admin, support, marketing); List searches. */
int member_api_create (svc_request_t *request, svc_reply_t *reply);
int member_api_get (svc_request_t *request, svc_reply_t *reply);
int member_api_update (svc_request_t *request, svc_reply_t *reply);
int member_api_withdraw (svc_request_t *request, svc_reply_t *reply);
int member_api_list (svc_request_t *request, svc_reply_t *reply);
int member_api_tag (svc_request_t *request, svc_reply_t *reply);

/* Shared checks: an email address, a UUID, and the list cursors ("" or "m<hex>"). */
bool member_api_valid_email (const char *email);
bool member_api_valid_uuid (const char *text);
int member_api_cursor_decode (const char *cursor, int64_t *after_seq);

/* The number of characters (code points) of UTF-8 text; -1 when it holds control characters. */
long member_api_text_length (const char *text);

#endif
