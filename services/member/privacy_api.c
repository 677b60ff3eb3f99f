/* privacy_api.c - a member's data rights under APPI: a copy of everything, and erasure */
#include "privacy_api.h"
#include "clock.h"
#include "member_api.h"
#include "privacy.pb-c.h"
#include "privacy_store.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool
s_role_is (svc_request_t *request, const char *role)
{
    return strcmp (request->envelope->caller_role, role) == 0;
}

int
privacy_api_export (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Privacy__DataExportRequest *export = (Kaiin__Privacy__DataExportRequest *)
        svc_unpack (request, &kaiin__privacy__data_export_request__descriptor, reply);
    if (!export)
        return -1;
    bool own = s_role_is (request, "member") && strcasecmp (request->envelope->caller_id, export->id) == 0;
    int rc = -1;
    char *json = NULL;
    if (!own && !s_role_is (request, "owner") && !s_role_is (request, "admin") && !s_role_is (request, "marketing"))
        svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "the role '%s' may not export a member's data",
                  request->envelope->caller_role);
    else
    if (!member_api_valid_uuid (export->id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    else {
        member_store_rc_t found = privacy_store_export (request->db, export->id, &json);
        if (found == MEMBER_STORE_NOT_FOUND)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
        else
        if (found != MEMBER_STORE_OK)
            svc_db_fail (reply, request->db);
        else {
            Kaiin__Privacy__DataExportReply answer = KAIIN__PRIVACY__DATA_EXPORT_REPLY__INIT;
            answer.json = json;
            rc = svc_reply_with (reply, &answer.base);
        }
    }
    free (json);
    protobuf_c_message_free_unpacked (&export->base, NULL);
    return rc;
}

int
privacy_api_erase (svc_request_t *request, svc_reply_t *reply)
{
    if (!s_role_is (request, "owner") && !s_role_is (request, "admin"))
        return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "the role '%s' may not erase members",
                         request->envelope->caller_role);
    Kaiin__Privacy__EraseRequest *erase = (Kaiin__Privacy__EraseRequest *)
        svc_unpack (request, &kaiin__privacy__erase_request__descriptor, reply);
    if (!erase)
        return -1;
    int rc = -1;
    long reason_length = member_api_text_length (erase->reason);
    if (reason_length < 0 || reason_length > 500)
        svc_field_error (reply, "reason", "must be at most 500 characters, without control characters");
    else
    if (!member_api_valid_uuid (erase->id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    else {
        Kaiin__Member__Member member = KAIIN__MEMBER__MEMBER__INIT;
        audit_actor_t actor = audit_actor_of (request, request->envelope->now_ms? request->envelope->now_ms: clock_now_ms ());
        member_store_rc_t erased = privacy_store_erase (request->db, erase->id, erase->reason, &actor, &member);
        if (erased == MEMBER_STORE_OK) {
            rc = svc_reply_with (reply, &member.base);
            member_store_clear (&member);
        }
        else
        if (erased == MEMBER_STORE_NOT_FOUND)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
        else
        if (erased == MEMBER_STORE_WITHDRAWN)
            svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the member's data was erased already");
        else
            svc_db_fail (reply, request->db);
    }
    protobuf_c_message_free_unpacked (&erase->base, NULL);
    return rc;
}
