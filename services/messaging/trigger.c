/* trigger.c - the events messaging consumes (member's, billing's, analytics'): the members'
   projection, each member's count of each event type, and the automations they fire */
#include "trigger.h"
#include "audience.h"
#include "behaviour.h"
#include "analytics.pb-c.h"
#include "billing.pb-c.h"
#include "log.h"
#include "member.pb-c.h"
#include "member_auth.pb-c.h"
#include "notice.h"
#include "pb_json.h"
#include "scenario.h"
#include "webhook.h"
#include <stdlib.h>
#include <string.h>

static int s_apply (pg_t *db, const Kaiin__Event *event, int64_t now_ms);

/* The end of a batch: what it read once for all its events is forgotten. */
static int
s_batch_end (pg_t *db, bool keep)
{
    (void) db;
    (void) keep;
    webhook_batch_end ();
    return 0;
}

const svc_consumer_t trigger_consumers [] = {
    { "member", s_apply, s_batch_end },
    { "billing", s_apply, s_batch_end },
    { "analytics", s_apply, s_batch_end },    /* signal.inactive: aggregate_id is the member */
    { NULL, NULL }
};

/* The payloads messaging can read, by source and type prefix: their fields become the
   template's {{event.*}}, and a field member_id names the member (else the aggregate does). */
static const struct {
    const char *source, *prefix;
    const ProtobufCMessageDescriptor *payload;
} s_payloads [] = {
    { "member", "member.tagged", &kaiin__member__tag_event__descriptor },
    { "member", "member.untagged", &kaiin__member__tag_event__descriptor },
    { "member", "member.registered", &kaiin__member__member__descriptor },
    { "member", "member.updated", &kaiin__member__member__descriptor },
    { "member", "member.withdrawn", &kaiin__member__member__descriptor },
    { "member", "member.erased", &kaiin__member__member__descriptor },
    { "member", "member.logged_in", &kaiin__member_auth__logged_in__descriptor },
    { "member", "member.password_reset_requested", &kaiin__member_auth__password_reset_requested__descriptor },
    { "billing", "purchase.", &kaiin__billing__purchase__descriptor },
    { "billing", "subscription.", &kaiin__billing__subscription__descriptor },
    { "billing", "invoice.", &kaiin__billing__invoice__descriptor },
    { "billing", "payment.", &kaiin__billing__payment__descriptor },
    { "billing", "payment_method.", &kaiin__billing__payment_method__descriptor },
    { "billing", "refund.", &kaiin__billing__refund__descriptor },
    { "analytics", "signal.", &kaiin__analytics__signal__descriptor },
    { "analytics", "alert.", &kaiin__analytics__alert__descriptor },
    { "analytics", "score.", &kaiin__analytics__scores__descriptor },
    { NULL }
};

bool
trigger_source_known (const char *source)
{
    for (const svc_consumer_t *consumer = trigger_consumers; consumer->source; consumer++)
        if (strcmp (consumer->source, source) == 0)
            return true;
    return false;
}

void
trigger_prepare (pg_t *db)
{
    /* One statement an event, sent without waiting (the consumer's commit reads the answers of
       the batch's statements): counted for the member (its nth), logged with its variables
       and their count, and the member entered into the automations it triggers. */
    pg_prepare (db, "trigger_fire",
            "with counted as (insert into event_counts (member_id, source, event_type, count)"
            "  values ($4, $1, $2, 1) on conflict (member_id, source, event_type) do update"
            "  set count = event_counts.count + 1 returning count),"
            " variables as (select count, $6::jsonb || jsonb_build_object ('count', count) as json from counted),"
            " logged as (insert into member_events (event_id, source, event_type, member_id,"
            "  occurred_at_ms, nth, event_json) select $5, $1, $2, $4, $3, count, json from variables"
            "  on conflict (event_id) do nothing),"
            " entered as (" SCENARIO_ENTER ("(select count from variables)", "(select json from variables)") ")"
            " select count from counted");
    pg_prepare (db, "trigger_forget",
            "with events as (delete from member_events where member_id = $1),"
            " facts as (delete from member_facts where member_id = $1),"
            " plans as (delete from member_plans where member_id = $1),"
            " runs as (update automation_runs set event_json = '{}', status = case status"
            " when 'active' then 'canceled' else status end where member_id = $1)"
            " delete from event_counts where member_id = $1");
}

/* The payload's reader for event, or NULL when messaging does not know it. */
static const ProtobufCMessageDescriptor *
s_payload (const Kaiin__Event *event)
{
    for (int i = 0; s_payloads [i].source; i++)
        if (strcmp (s_payloads [i].source, event->source) == 0
        &&  strncmp (s_payloads [i].prefix, event->type, strlen (s_payloads [i].prefix)) == 0)
            return s_payloads [i].payload;
    return NULL;
}

/* The member the event is about: the payload's member_id when it has one, else the
   aggregate. Borrowed from payload or event. */
static const char *
s_member_id (const Kaiin__Event *event, const ProtobufCMessage *payload)
{
    const ProtobufCFieldDescriptor *field = payload
        ? protobuf_c_message_descriptor_get_field_by_name (payload->descriptor, "member_id"): NULL;
    if (field && field->type == PROTOBUF_C_TYPE_STRING && field->label != PROTOBUF_C_LABEL_REPEATED) {
        const char *value = *(const char **) ((const char *) payload + field->offset);
        if (value && *value)
            return value;
    }
    return event->aggregate_id;
}

/* Ends the runs the event is the goal of, counts the event for the member, logs it with its
   variables (and "count", the member's count of it), and enters the member into the
   automations it triggers. Returns 0 or -1. */
static int
s_fire (pg_t *db, const Kaiin__Event *event, const char *member_id, json_t *variables, int64_t now_ms)
{
    if (scenario_goal (db, event, member_id, now_ms) == -1)
        return -1;
    json_object_set_new (variables, "type", json_string (event->type));
    char *text = json_dumps (variables, JSON_COMPACT);
    char occurred [24], now [24];
    const char *params [] = { event->source, event->type, NUM (occurred, event->occurred_at_ms),
                              member_id, event->id, text, NUM (now, now_ms) };
    int rc = pg_defer (db, "trigger_fire", 7, params);
    free (text);
    return rc;
}

static int
s_apply (pg_t *db, const Kaiin__Event *event, int64_t now_ms)
{
    const ProtobufCMessageDescriptor *descriptor = s_payload (event);
    ProtobufCMessage *payload = descriptor
        ? protobuf_c_message_unpack (descriptor, NULL, event->payload.len, event->payload.data): NULL;
    if (descriptor && !payload) {
        log_warn ("%s event %lld ('%s') has a payload that cannot be read, skipped", event->source,
                  (long long) event->seq, event->type);
        return 0;
    }
    int rc = webhook_enqueue (db, event, payload, now_ms);
    if (rc == 0 && payload && strcmp (event->source, "member") == 0)
        rc = audience_apply (db, event->type, payload, now_ms);
    if (rc == 0 && strcmp (event->type, "alert.raised") == 0 && payload)    /* for the owners */
        rc = notice_alert (db, event, (const Kaiin__Analytics__Alert *) payload, now_ms);
    const char *member_id = s_member_id (event, payload);
    if (rc == 0 && strcmp (event->source, "member") != 0)
        rc = behaviour_apply (db, event, payload, member_id);
    if (rc == 0 && messaging_uuid (member_id)) {
        if (strcmp (event->type, "member.erased") == 0) {
            const char *params [] = { member_id };
            rc = pg_defer (db, "trigger_forget", 1, params);
        }
        else {
            json_t *variables = payload? pb_json_from_message (payload): json_object ();
            rc = s_fire (db, event, member_id, variables, now_ms);
            json_decref (variables);
        }
    }
    if (payload)
        protobuf_c_message_free_unpacked (payload, NULL);
    return rc;
}

bool
trigger_event_type_valid (const char *type)
{
    const char *dot = type? strchr (type, '.'): NULL;
    return dot && dot != type && dot [1] && strlen (type) <= 64
        && strspn (type, "abcdefghijklmnopqrstuvwxyz0123456789_.") == strlen (type);
}
