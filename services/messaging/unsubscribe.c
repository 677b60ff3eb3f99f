/* unsubscribe.c - one-click unsubscribe (RFC 8058): the signed link every marketing mail
   carries, and the open route it points at */
#include "unsubscribe.h"
#include "audience.h"
#include "link.h"

#define ROUTE "/v1/messaging/unsubscribe/"

void
unsubscribe_url (const char *mail_id, char *url, size_t size)
{
    char token [LINK_TOKEN_CHARS + 1];
    link_token (mail_id, -1, token);
    link_url (ROUTE, token, url, size);
}

int
unsubscribe_api_post (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__UnsubscribeRequest *unsubscribe = (Kaiin__Messaging__UnsubscribeRequest *)
        svc_unpack (request, &kaiin__messaging__unsubscribe_request__descriptor, reply);
    if (!unsubscribe)
        return -1;
    char mail_id [LINK_UUID_CHARS + 1];
    int rc = -1;
    if (!link_token_check (unsubscribe->token, mail_id, NULL))
        svc_field_error (reply, "token", "is not an unsubscribe link this service made");
    else {
        int64_t now_ms = messaging_now (request);
        int found = pg_begin (request->db) == 0? audience_unsubscribe (request->db, mail_id, now_ms): -1;
        if (found == -1 || pg_commit (request->db) == -1) {
            pg_rollback (request->db);
            svc_db_fail (reply, request->db);
        }
        else
        if (found == 1)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "member not found");
        else {
            Kaiin__Messaging__UnsubscribeReply answer = KAIIN__MESSAGING__UNSUBSCRIBE_REPLY__INIT;
            answer.unsubscribed = true;
            answer.at_ms = now_ms;
            rc = svc_reply_with (reply, &answer.base);
        }
    }
    protobuf_c_message_free_unpacked (&unsubscribe->base, NULL);
    return rc;
}
