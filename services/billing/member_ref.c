/* member_ref.c - what billing asks the member service: does the member exist, their rank,
   the name an invoice is addressed to */
#include "member_ref.h"
#include "billing.h"
#include "member.pb-c.h"
#include <stdio.h>
#include <stdlib.h>
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

/* member.Get through the broker: the member (the caller frees it), or NULL with *status
   NOT_FOUND (no such member) or another status (503 on reply when it did not answer). */
static Kaiin__Member__Member *
s_get (svc_reply_t *reply, const char *member_id, Kaiin__Status *status)
{
    *status = KAIIN__STATUS__NOT_FOUND;
    if (!billing_uuid (member_id))
        return NULL;
    Kaiin__Member__GetRequest get = KAIIN__MEMBER__GET_REQUEST__INIT;
    get.id = (char *) member_id;
    ProtobufCMessage *out = NULL;
    *status = svc_call ("member.Get", &get.base, &kaiin__member__member__descriptor, &out, LOOKUP_TIMEOUT_MS);
    if (*status == KAIIN__STATUS__OK && out)
        return (Kaiin__Member__Member *) out;
    if (out)
        protobuf_c_message_free_unpacked (out, NULL);
    if (*status != KAIIN__STATUS__NOT_FOUND) {
        *status = KAIIN__STATUS__UNAVAILABLE;
        svc_fail (reply, KAIIN__STATUS__UNAVAILABLE, "the member service did not answer");
    }
    return NULL;
}

int
member_ref_lookup (svc_reply_t *reply, const char *member_id, const char *field,
                   bool must_be_active, char rank [33], char status [16])
{
    Kaiin__Status found;
    Kaiin__Member__Member *member = s_get (reply, member_id, &found);
    if (!member)
        return found == KAIIN__STATUS__NOT_FOUND? s_unknown (reply, field): -1;
    snprintf (rank, 33, "%s", member->rank);
    snprintf (status, 16, "%s", member->status);
    protobuf_c_message_free_unpacked (&member->base, NULL);
    if (must_be_active && strcmp (status, "withdrawn") == 0) {
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the member has withdrawn");
        if (field)
            svc_field_error (reply, field, "is a withdrawn member");
        return -1;
    }
    return 0;
}

/* A text of the member (their name or email, or their reading), into out; "" for no such member. */
static int
s_text (svc_reply_t *reply, const char *member_id, bool kana, char *out, size_t size)
{
    Kaiin__Status found;
    Kaiin__Member__Member *member = s_get (reply, member_id, &found);
    const char *text = !member? "": kana? member->name_kana: *member->name? member->name: member->email;
    snprintf (out, size, "%s", text);
    if (member)
        protobuf_c_message_free_unpacked (&member->base, NULL);
    return member || found == KAIIN__STATUS__NOT_FOUND? 0: -1;
}

int
member_ref_name (svc_reply_t *reply, const char *member_id, char *name, size_t size)
{
    return s_text (reply, member_id, false, name, size);
}

int
member_ref_kana (svc_reply_t *reply, const char *member_id, char *kana, size_t size)
{
    return s_text (reply, member_id, true, kana, size);
}

int
member_ref_search (svc_reply_t *reply, const char *q, int max, char **ids, char **readings)
{
    Kaiin__Member__ListRequest ask = KAIIN__MEMBER__LIST_REQUEST__INIT;
    ask.q = (char *) q;
    ask.limit = max;
    ProtobufCMessage *out = NULL;
    Kaiin__Status status = svc_call ("member.List", &ask.base, &kaiin__member__list_reply__descriptor,
                                     &out, LOOKUP_TIMEOUT_MS);
    Kaiin__Member__ListReply *list = status == KAIIN__STATUS__OK? (Kaiin__Member__ListReply *) out: NULL;
    int found = 0;
    for (size_t i = 0; list && i < list->n_members && found < max; i++, found++) {
        ids [found] = strdup (list->members [i]->id);
        readings [found] = strdup (list->members [i]->name_kana);
    }
    if (out)
        protobuf_c_message_free_unpacked (out, NULL);
    if (!list)
        return svc_fail (reply, KAIIN__STATUS__UNAVAILABLE, "the member service did not answer");
    return found;
}
