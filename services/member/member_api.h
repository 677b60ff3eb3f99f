/* member_api.h - the member methods: validate, call the store, build the reply */
#ifndef KAIIN_MEMBER_API_H
#define KAIIN_MEMBER_API_H
#include "member_store.h"
#include "svc.h"
#include <stdbool.h>
#include <stdint.h>

/* Each serves one method of the member service (see proto/member.proto). Create and Update
   refuse status and rank from roles other than owner and admin (PERMISSION_DENIED naming the
   field); Tag needs a role that may tag (owner, admin, support, marketing); List searches. */
int member_api_create (svc_request_t *request, svc_reply_t *reply);
int member_api_get (svc_request_t *request, svc_reply_t *reply);
void member_api_get_many (svc_request_t *const *requests, svc_reply_t *const *replies, int count);
int member_api_update (svc_request_t *request, svc_reply_t *reply);
int member_api_withdraw (svc_request_t *request, svc_reply_t *reply);
int member_api_list (svc_request_t *request, svc_reply_t *reply);
int member_api_tag (svc_request_t *request, svc_reply_t *reply);

/* Checks a new member as member.Create does (field errors into reply; postal_code is
   normalised in place). Returns 0 when it may be stored, else -1. */
int member_api_check_create (svc_request_t *request, Kaiin__Member__CreateRequest *create,
                             svc_reply_t *reply);

/* Between on and off, member_api_check_create reads the custom attributes' definitions once
   instead of once a row (an import's rows, all checked in one request). Returns 0 or -1. */
int member_api_cache_attributes (svc_request_t *request, bool on);

/* A list query checked and ready for member_store_list: release it when done. */
typedef struct {
    member_query_t query;
    char *attributes;
    char *tags;
} member_api_query_t;

/* Checks list's filters and sort (field errors into reply) and fills prepared. 0 or -1. */
int member_api_query_prepare (svc_request_t *request, const Kaiin__Member__ListRequest *list,
                              member_api_query_t *prepared, svc_reply_t *reply);
void member_api_query_release (member_api_query_t *prepared);

/* Shared checks: an email address, a UUID, and the list cursors ("" or "m<hex>"). */
bool member_api_valid_email (const char *email);
bool member_api_valid_uuid (const char *text);
int member_api_cursor_decode (const char *cursor, int64_t *after_seq);

/* The number of characters (code points) of UTF-8 text; -1 when it holds control characters. */
long member_api_text_length (const char *text);

#endif
