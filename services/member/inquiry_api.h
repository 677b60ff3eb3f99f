/* inquiry_api.h - the support-inquiry methods (問い合わせ履歴): validate, call the store, reply */
#ifndef KAIIN_INQUIRY_API_H
#define KAIIN_INQUIRY_API_H
#include "svc.h"

/* Each serves one method of the member service, "member.Inquiry<Verb>" (see
   proto/inquiry.proto). Reads are open to every role; writes to owner, admin and support
   (PERMISSION_DENIED otherwise). Malformed ids are NOT_FOUND; bad fields INVALID_ARGUMENT
   naming them. */
int inquiry_api_open (svc_request_t *request, svc_reply_t *reply);
int inquiry_api_get (svc_request_t *request, svc_reply_t *reply);
int inquiry_api_list (svc_request_t *request, svc_reply_t *reply);
int inquiry_api_reply (svc_request_t *request, svc_reply_t *reply);
int inquiry_api_update (svc_request_t *request, svc_reply_t *reply);

#endif
