/* messaging_events.c - messaging's member.unsubscribed: the member record's marketing consent
   follows a one-click unsubscribe */
#include "messaging_events.h"
#include "audit.h"
#include "log.h"
#include "member_record.h"
#include "messaging.pb-c.h"
#include <stdio.h>
#include <string.h>

/* Withdraws the member's consent as of the unsubscribe, unless one recorded since says
   otherwise. Returns 0 or -1 (database error). */
static int
s_withdraw (pg_t *db, const Kaiin__Event *event, const Kaiin__Messaging__Unsubscribed *unsubscribed,
            int64_t now_ms)
{
    Kaiin__Member__Member *member;
    member_rc_t rc = member_record_get (db, unsubscribed->member_id, &member);
    if (rc == MEMBER_ERROR)
        return -1;
    if (rc != MEMBER_OK) {
        log_warn ("messaging event %lld ('%s'): no member '%s', skipped", (long long) event->seq,
                  event->type, unsubscribed->member_id);
        return 0;
    }
    const Kaiin__Member__Consent *now = member->marketing_consent;
    bool settled = now && now->at_ms >= unsubscribed->at_ms;
    protobuf_c_message_free_unpacked (&member->base, NULL);
    if (settled)
        return 0;
    char source [96];
    snprintf (source, sizeof source, "one-click unsubscribe, mail %s", unsubscribed->mail_id);
    Kaiin__Member__Consent consent = KAIIN__MEMBER__CONSENT__INIT;
    consent.email_opt_in = false;
    consent.at_ms = unsubscribed->at_ms;
    consent.method = "web_form";             /* the member's own click, on messaging's page */
    consent.source = source;
    char *mask [] = { "marketing_consent" };
    Kaiin__Member__UpdateRequest update = KAIIN__MEMBER__UPDATE_REQUEST__INIT;
    update.id = unsubscribed->member_id;
    update.update_mask = mask;
    update.n_update_mask = 1;
    update.marketing_consent = &consent;
    audit_actor_t actor = { "messaging", "service", event->id, "", now_ms };
    rc = member_record_update (db, &update, &actor, &member);
    if (rc == MEMBER_ERROR)
        return -1;
    if (rc != MEMBER_OK) {
        log_warn ("messaging event %lld ('%s'): member '%s' cannot be updated (%d), skipped",
                  (long long) event->seq, event->type, unsubscribed->member_id, (int) rc);
        return 0;
    }
    protobuf_c_message_free_unpacked (&member->base, NULL);
    return 0;
}

int
member_messaging_apply (pg_t *db, const Kaiin__Event *event, int64_t now_ms)
{
    if (strcmp (event->type, "member.unsubscribed") != 0)
        return 0;
    Kaiin__Messaging__Unsubscribed *unsubscribed = kaiin__messaging__unsubscribed__unpack (NULL,
        event->payload.len, event->payload.data);
    if (!unsubscribed) {
        log_warn ("messaging event %lld ('%s') has a payload that cannot be read, skipped",
                  (long long) event->seq, event->type);
        return 0;
    }
    int rc = 0;
    if (!member_uuid (unsubscribed->member_id))
        log_warn ("messaging event %lld ('%s'): member id '%s' is not a UUID, skipped",
                  (long long) event->seq, event->type, unsubscribed->member_id);
    else
        rc = s_withdraw (db, event, unsubscribed, now_ms);
    kaiin__messaging__unsubscribed__free_unpacked (unsubscribed, NULL);
    return rc;
}
