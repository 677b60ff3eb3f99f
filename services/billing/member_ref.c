/* member_ref.c - what billing asks the member service: does the member exist, their rank */
#include "member_ref.h"
#include "billing.h"
#include "member.pb-c.h"
#include <stdio.h>
#include <string.h>

#define LOOKUP_TIMEOUT_MS 3000

/* No such member: a field error on field, or 404 when the path named it (field NULL). -1. */
static int
s_unknown (svc_reply_t *reply, const char *field)
{
    if (!field)
        return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "member not found");
    svc_field_error (reply, field, "must be the id of a member");
    return -1;
}

int
member_ref_lookup (svc_reply_t *reply, const char *member_id, const char *field,
                   bool must_be_active, char rank [33], char status [16])
{
    if (!billing_uuid (member_id))
        return s_unknown (reply, field);
    Kaiin__Member__GetRequest get = KAIIN__MEMBER__GET_REQUEST__INIT;
    get.id = (char *) member_id;
    ProtobufCMessage *out = NULL;
    Kaiin__Status status_code = svc_call ("member.Get", &get.base, &kaiin__member__member__descriptor,
                                          &out, LOOKUP_TIMEOUT_MS);
    if (status_code == KAIIN__STATUS__NOT_FOUND)
        return s_unknown (reply, field);
    if (status_code != KAIIN__STATUS__OK || !out) {
        svc_fail (reply, KAIIN__STATUS__UNAVAILABLE, "the member service did not answer");
        return -1;
    }
    Kaiin__Member__Member *member = (Kaiin__Member__Member *) out;
    snprintf (rank, 33, "%s", member->rank);
    snprintf (status, 16, "%s", member->status);
    protobuf_c_message_free_unpacked (out, NULL);
    if (must_be_active && strcmp (status, "withdrawn") == 0) {
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the member has withdrawn");
        if (field)
            svc_field_error (reply, field, "is a withdrawn member");
        return -1;
    }
    return 0;
}
