/* api_key.h - API keys: made by the service and shown once, kept as their SHA-256, revoked */
#ifndef KAIIN_API_KEY_H
#define KAIIN_API_KEY_H
#include "member.h"

void api_key_prepare (pg_t *db);

/* Each serves one method of the member service (see proto/staff.proto): member.ApiKeyCreate,
   ApiKeyVerify (the gateway's key_method: kaiin.KeyCheck to kaiin.KeyIdentity), ApiKeyRevoke,
   ApiKeyList. */
svc_handler_fn api_key_api_create, api_key_api_verify, api_key_api_revoke, api_key_api_list;

#endif
