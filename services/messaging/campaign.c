/* campaign.c - campaigns (一斉配信): a template to a segment's members, now or at a time, at a
   rate; its recipients recorded as mail rows when it starts; pause, resume, cancel, a test send,
   and its figures */
#include "campaign.h"
#include "click.h"
#include "mail.h"
#include "segment.h"
#include "settings.h"
#include "suppression.h"
#include "template.h"
#include <stdlib.h>
#include <string.h>

#define CAMPAIGN_COLUMNS "c.id, c.name, c.template_id, c.segment_id, c.kind, c.status, c.send_at_ms," \
    " c.rate_per_minute, c.total, (select count(*) from mails x where x.campaign_id = c.id" \
    " and x.status = 'sent') as sent, c.matched, c.started_at_ms, c.finished_at_ms," \
    " c.created_at_ms, c.updated_at_ms, c.version, c.paused_reason, c.seq"
#define RATE_MAX 600000

/* What each action does to a campaign: the statuses it may come from, the one it leads to. */
static const struct {
    const char *action, *from, *to;
} s_moves [] = {
    { "send",   "draft scheduled",                 "sending" },     /* or scheduled: send_at */
    { "pause",  "sending",                         "paused" },
    { "resume", "paused",                          "sending" },
    { "cancel", "draft scheduled sending paused",  "canceled" },
    { NULL }
};

void
campaign_prepare (pg_t *db)
{
    pg_prepare (db, "campaign_insert",
            "insert into campaigns (name, template_id, segment_id, kind, rate_per_minute,"
            " created_at_ms, updated_at_ms)"
            " select $1, t.id, $3, t.kind, $4, $5, $5 from templates t where t.id = $2 returning id");
    pg_prepare (db, "campaign_get", "select " CAMPAIGN_COLUMNS " from campaigns c where c.id = $1");
    pg_prepare (db, "campaign_list",
            "select " CAMPAIGN_COLUMNS " from campaigns c where c.seq < $1 order by c.seq desc limit $2");
    pg_prepare (db, "campaign_update",
            "update campaigns set name = $2, template_id = $3, segment_id = $4, rate_per_minute = $5,"
            " kind = (select kind from templates where id = $3), updated_at_ms = $6,"
            " version = version + 1 where id = $1 and ($7::bigint = 0 or version = $7) returning id");
    pg_prepare (db, "campaign_lock",
            "select status, template_id, segment_id, rate_per_minute from campaigns where id = $1"
            " for update");
    pg_prepare (db, "campaign_due",
            "select id, template_id, segment_id, rate_per_minute from campaigns"
            " where status = 'scheduled' and send_at_ms <= $1 order by send_at_ms limit 1"
            " for update skip locked");
    pg_prepare (db, "campaign_matched", "select count(*) from segment_members ($1, $2::jsonb)");
    pg_prepare (db, "campaign_recipients",
            "insert into mails (member_id, template_id, campaign_id, event_id, kind, due_at_ms,"
            " created_at_ms)"
            " select m.id, $3, $4, '', $5, $6::bigint + case when $7::int > 0"
            " then (row_number () over (order by m.id) - 1) * 60000 / $7::int else 0 end, $6"
            " from segment_members ($1, $2::jsonb) as s (id) join members m on m.id = s.id"
            " where m.status <> 'withdrawn' and m.email <> '' and ($5 <> 'marketing' or m.marketing)"
            " and not " SUPPRESSION_LISTED ("m.email")
            " on conflict (campaign_id, member_id) where campaign_id is not null do nothing");
    pg_prepare (db, "campaign_started",
            "update campaigns set status = 'sending', kind = $2,"
            " links = array (select jsonb_array_elements_text ($3::jsonb)), matched = $4, total = $5,"
            " started_at_ms = $6, send_at_ms = case when send_at_ms = 0 then $6 else send_at_ms end,"
            " updated_at_ms = $6, version = version + 1 where id = $1");
    pg_prepare (db, "campaign_move",
            "update campaigns set status = $2, paused_reason = '', send_at_ms = case when $2 = 'scheduled' then $4"
            " else send_at_ms end, finished_at_ms = case when $2 = 'canceled' then $3"
            " else finished_at_ms end, updated_at_ms = $3, version = version + 1 where id = $1");
    pg_prepare (db, "campaign_hold",
            "update mails set status = 'held' where campaign_id = $1 and status = 'queued'");
    pg_prepare (db, "campaign_release",
            "with held as (select id, row_number () over (order by due_at_ms, seq) - 1 as k"
            " from mails where campaign_id = $1 and status = 'held')"
            " update mails m set status = 'queued', due_at_ms = $2::bigint + case when $3::int > 0"
            " then held.k * 60000 / $3::int else 0 end from held where m.id = held.id");
    pg_prepare (db, "campaign_cancel",
            "update mails set status = 'canceled', last_error = 'the campaign was canceled'"
            " where campaign_id = $1 and status in ('queued', 'held')");
    pg_prepare (db, "campaign_guard",           /* pauses it past the failure rate */
            "with tried as (select count(*) filter (where status in ('failed', 'bounced')) as bad,"
            " count(*) filter (where status in ('sent', 'failed', 'bounced')) as tried"
            " from mails where campaign_id = $1),"
            " paused as (update campaigns c set status = 'paused', updated_at_ms = $2,"
            " version = c.version + 1, paused_reason = format ("
            " '%s of %s mails tried failed or bounced (more than %s%%)', tried.bad, tried.tried, s.pause_failure_percent)"
            " from tried, settings s where c.id = $1 and c.status = 'sending'"
            " and s.pause_failure_percent > 0 and tried.tried >= s.pause_after"
            " and tried.bad * 100 > s.pause_failure_percent * tried.tried returning c.id)"
            " update mails set status = 'held' where id in (select id from mails"
            " where campaign_id in (select id from paused) and status = 'queued'"
            " for update skip locked)");
    pg_prepare (db, "campaign_finish",
            "update campaigns c set status = 'sent', finished_at_ms = $1, updated_at_ms = $1,"
            " version = version + 1 where c.status = 'sending' and not exists"
            " (select 1 from mails x where x.campaign_id = c.id and x.status = 'queued')");
    pg_prepare (db, "campaign_stats",
            "select c.id as campaign_id, c.status, c.total,"
            " count (m.id) filter (where m.status = 'queued') as queued,"
            " count (m.id) filter (where m.status = 'held') as held,"
            " count (m.id) filter (where m.status = 'sent') as sent,"
            " count (m.id) filter (where m.status = 'bounced') as bounced,"
            " count (m.id) filter (where m.status = 'failed') as failed,"
            " count (m.id) filter (where m.status = 'suppressed') as suppressed,"
            " count (m.id) filter (where m.status = 'canceled') as canceled,"
            " count (m.id) filter (where m.status = 'capped') as capped,"
            " count (m.id) filter (where m.clicked_at_ms > 0) as clicked,"
            " (select count(*) from clicks k join mails y on y.id = k.mail_id"
            " where y.campaign_id = c.id) as clicks,"
            " count (m.id) filter (where m.unsubscribed_at_ms > 0) as unsubscribed,"
            " count (m.id) filter (where m.converted_at_ms > 0) as conversions,"
            " coalesce (sum (m.conversion_amount), 0) as conversion_total"
            " from campaigns c left join mails m on m.campaign_id = c.id where c.id = $1"
            " group by c.seq");
}

/* Answers campaign id as it is now. */
static int
s_reply (svc_request_t *request, svc_reply_t *reply, const char *id)
{
    const char *params [] = { id };
    return messaging_reply_row (request, reply, "campaign_get", 1, params,
                                &kaiin__messaging__campaign__descriptor, "campaign not found");
}

/* Field errors for a campaign as it would be saved. Returns 0, or -1 on a database error. */
static int
s_check (svc_request_t *request, svc_reply_t *reply, const Kaiin__Messaging__Campaign *campaign)
{
    messaging_check_text (reply, "name", campaign->name, 100, false);
    if (campaign->rate_per_minute < 0 || campaign->rate_per_minute > RATE_MAX)
        svc_field_error (reply, "rate_per_minute", "must be from 0 to %d", RATE_MAX);
    int template = template_usable (request->db, campaign->template_id);
    int segment = template >= 0? segment_usable (request->db, campaign->segment_id): -1;
    if (segment == -1)
        return svc_db_fail (reply, request->db);
    if (template == 0)
        svc_field_error (reply, "template_id", "is not a template");
    if (segment == 0)
        svc_field_error (reply, "segment_id", "is not a segment");
    return 0;
}

int
campaign_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__Campaign *campaign = (Kaiin__Messaging__Campaign *)
        svc_unpack (request, &kaiin__messaging__campaign__descriptor, reply);
    if (!campaign)
        return -1;
    int rc = s_check (request, reply, campaign);
    if (rc == 0 && reply->status == KAIIN__STATUS__OK) {
        char rate [24], now [24];
        const char *params [] = { campaign->name, campaign->template_id, campaign->segment_id,
                                  NUM (rate, campaign->rate_per_minute), NUM (now, messaging_now (request)) };
        PGresult *result = messaging_run (request, reply, "campaign_insert", 5, params);
        rc = result? s_reply (request, reply, PQgetvalue (result, 0, 0)): -1;
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&campaign->base, NULL);
    return reply->status == KAIIN__STATUS__OK? rc: -1;
}

int
campaign_api_get (svc_request_t *request, svc_reply_t *reply)
{
    return messaging_reply_by_id (request, reply, "campaign_get", &kaiin__messaging__campaign__descriptor,
                                  "campaign not found");
}

int
campaign_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__ListRequest *list = (Kaiin__Messaging__ListRequest *)
        svc_unpack (request, &kaiin__messaging__list_request__descriptor, reply);
    if (!list)
        return -1;
    const char *params [2];
    int rc = messaging_reply_list (request, reply, "campaign_list", 2, params, list,
                                   &kaiin__messaging__campaign_list__descriptor);
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

int
campaign_api_stats (svc_request_t *request, svc_reply_t *reply)
{
    return messaging_reply_by_id (request, reply, "campaign_stats",
                                  &kaiin__messaging__campaign_stats__descriptor, "campaign not found");
}

/* The campaign id locked in the open transaction: a row of campaign_lock, or NULL with
   NOT_FOUND (or a database error) on reply. */
static PGresult *
s_lock (svc_request_t *request, svc_reply_t *reply, const char *id)
{
    const char *params [] = { id };
    PGresult *locked = messaging_uuid (id)? messaging_run (request, reply, "campaign_lock", 1, params): NULL;
    if (locked && PQntuples (locked) == 1)
        return locked;
    if (reply->status == KAIIN__STATUS__OK)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "campaign not found");
    PQclear (locked);
    return NULL;
}

int
campaign_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__CampaignUpdateRequest *update = (Kaiin__Messaging__CampaignUpdateRequest *)
        svc_unpack (request, &kaiin__messaging__campaign_update_request__descriptor, reply);
    if (!update)
        return -1;
    int rc = -1;
    const char *id [] = { update->id };
    PGresult *found = NULL, *locked = pg_begin (request->db) == 0? s_lock (request, reply, update->id): NULL;
    if (!locked && reply->status == KAIIN__STATUS__OK)
        svc_db_fail (reply, request->db);
    if (locked && strcmp (PQgetvalue (locked, 0, 0), "draft") != 0)
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the campaign is %s: only a draft can be changed",
                  PQgetvalue (locked, 0, 0));
    else
    if (locked && (found = messaging_run (request, reply, "campaign_get", 1, id))) {
        Kaiin__Messaging__Campaign *now = (Kaiin__Messaging__Campaign *)
            pg_row_message (found, 0, &kaiin__messaging__campaign__descriptor);
        Kaiin__Messaging__Campaign merged = *now;
        const Kaiin__Messaging__Campaign *change = update->campaign;
        if (change) {
            if (SVC_MASKED (update, "name")) merged.name = change->name;
            if (SVC_MASKED (update, "template_id")) merged.template_id = change->template_id;
            if (SVC_MASKED (update, "segment_id")) merged.segment_id = change->segment_id;
            if (SVC_MASKED (update, "rate_per_minute")) merged.rate_per_minute = change->rate_per_minute;
        }
        if (s_check (request, reply, &merged) == 0 && reply->status == KAIIN__STATUS__OK) {
            char rate [24], now_text [24], version [24];
            const char *params [] = { update->id, merged.name, merged.template_id, merged.segment_id,
                                      NUM (rate, merged.rate_per_minute),
                                      NUM (now_text, messaging_now (request)),
                                      NUM (version, update->if_version) };
            PGresult *result = messaging_run (request, reply, "campaign_update", 7, params);
            if (result && PQntuples (result) == 0)
                svc_fail (reply, KAIIN__STATUS__ABORTED, "the campaign was changed meanwhile");
            else
            if (result && pg_commit (request->db) == 0)
                rc = s_reply (request, reply, update->id);
            else
            if (result)
                svc_db_fail (reply, request->db);
            PQclear (result);
        }
        protobuf_c_message_free_unpacked (&now->base, NULL);
    }
    if (rc == -1)
        pg_rollback (request->db);
    PQclear (found);
    PQclear (locked);
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}

/* Runs a statement of the open transaction. */
static int
s_run (pg_t *db, const char *name, int count, const char *const *params)
{
    PGresult *result = pg_run (db, name, count, params);
    PQclear (result);
    return result? 0: -1;
}

/* Records campaign id's recipients (the members its segment matches now who may get its
   template's kind of mail: not withdrawn, an address not suppressed, for marketing consent) as
   queued mails, due one after another at rate (a number of mails a minute as text; "0": all at
   once), and makes it sending, with its template's tracked links; in the caller's
   transaction, its row locked. Returns 0, 1 when its template or segment is gone, -1. */
static int
s_start (pg_t *db, const char *id, const char *template_id, const char *segment_id,
         const char *rate, int64_t now_ms)
{
    bool failed;
    Kaiin__Messaging__Template *template = template_load (db, template_id, &failed);
    if (!template)
        return failed? -1: 1;
    filter_sql_t compiled;
    int rc = segment_compiled (db, segment_id, now_ms, &compiled);
    if (rc != 0) {
        protobuf_c_message_free_unpacked (&template->base, NULL);
        return rc;
    }
    json_t *links = click_links (template->html);
    char *links_json = json_dumps (links, JSON_COMPACT);
    char now [24];
    NUM (now, now_ms);
    const char *count [] = { compiled.sql, compiled.params };
    const char *insert [] = { compiled.sql, compiled.params, template_id, id, template->kind, now, rate };
    PGresult *matched = pg_run (db, "campaign_matched", 2, count);
    PGresult *recorded = matched? pg_run (db, "campaign_recipients", 7, insert): NULL;
    rc = -1;
    if (recorded) {
        const char *started [] = { id, template->kind, links_json, PQgetvalue (matched, 0, 0),
                                   PQcmdTuples (recorded), now };
        rc = s_run (db, "campaign_started", 6, started);
    }
    PQclear (matched);
    PQclear (recorded);
    free (links_json);
    json_decref (links);
    filter_sql_clear (&compiled);
    protobuf_c_message_free_unpacked (&template->base, NULL);
    return rc;
}

/* The move of action from status, or -1 when action may not be taken from it. */
static int
s_move (const char *action, const char *status)
{
    for (int i = 0; s_moves [i].action; i++) {
        if (strcmp (s_moves [i].action, action) != 0)
            continue;
        for (const char *at = s_moves [i].from; *at; ) {
            size_t word = strcspn (at, " ");
            if (word == strlen (status) && strncmp (at, status, word) == 0)
                return i;
            at += word;
            at += strspn (at, " ");
        }
    }
    return -1;
}

/* Refuses (FAILED_PRECONDITION on reply) to send a marketing template while the settings lack
   an item the law requires in it. Returns 0 (it may be sent), 1 (refused), -1 (database). */
static int
s_legal_gap (pg_t *db, const char *template_id, svc_reply_t *reply)
{
    bool failed;
    Kaiin__Messaging__Template *template = template_load (db, template_id, &failed);
    Kaiin__Messaging__Settings *settings = template? settings_load (db): NULL;
    int rc = failed || (template && !settings)? -1: 0;
    const char *gap = settings && strcmp (template->kind, "marketing") == 0
        ? settings_legal_gap (settings): NULL;
    if (gap) {
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "a marketing mail cannot be sent: %s",
                  messages_say (reply->japanese, gap));
        rc = 1;
    }
    if (settings)
        protobuf_c_message_free_unpacked (&settings->base, NULL);
    if (template)
        protobuf_c_message_free_unpacked (&template->base, NULL);
    return rc;
}

/* Does action to the locked campaign (row: campaign_lock's) in the open transaction. Returns
   0, or -1 with the reason on reply. */
static int
s_act (svc_request_t *request, svc_reply_t *reply, const Kaiin__Messaging__CampaignActionRequest *act,
       PGresult *row)
{
    const char *status = PQgetvalue (row, 0, 0), *rate = PQgetvalue (row, 0, 3);
    int move = s_move (act->action, status);
    if (move < 0)
        return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                         "the campaign is %s: it cannot be %s", status,
                         strcmp (act->action, "send") == 0? "sent": strcmp (act->action, "pause") == 0? "paused"
                         : strcmp (act->action, "resume") == 0? "resumed": "canceled");
    int64_t now_ms = messaging_now (request);
    char now [24], send_at [24];
    const char *id = act->id, *to = s_moves [move].to;
    const char *campaign [] = { id };
    const char *release [] = { id, NUM (now, now_ms), rate };
    int rc = -1;
    if (strcmp (act->action, "send") == 0) {
        int gap = s_legal_gap (request->db, PQgetvalue (row, 0, 1), reply);
        if (gap != 0)
            return gap == 1? -1: svc_db_fail (reply, request->db);
    }
    if (strcmp (act->action, "send") == 0 && act->send_at_ms > now_ms)
        to = "scheduled";
    else
    if (strcmp (act->action, "send") == 0) {
        rc = s_start (request->db, id, PQgetvalue (row, 0, 1), PQgetvalue (row, 0, 2), rate, now_ms);
        if (rc == 1)
            return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "its segment was deleted");
        return rc == 0? 0: svc_db_fail (reply, request->db);
    }
    if (strcmp (act->action, "pause") == 0)
        rc = s_run (request->db, "campaign_hold", 1, campaign);
    else
    if (strcmp (act->action, "resume") == 0)
        rc = s_run (request->db, "campaign_release", 3, release);
    else
    if (strcmp (act->action, "cancel") == 0)
        rc = s_run (request->db, "campaign_cancel", 1, campaign);
    else
        rc = 0;                         /* scheduled */
    const char *moved [] = { id, to, now, NUM (send_at, act->send_at_ms) };
    if (rc == 0)
        rc = s_run (request->db, "campaign_move", 4, moved);
    return rc == 0? 0: svc_db_fail (reply, request->db);
}

int
campaign_api_action (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__CampaignActionRequest *act = (Kaiin__Messaging__CampaignActionRequest *)
        svc_unpack (request, &kaiin__messaging__campaign_action_request__descriptor, reply);
    if (!act)
        return -1;
    int rc = -1;
    PGresult *locked = pg_begin (request->db) == 0? s_lock (request, reply, act->id): NULL;
    if (!locked && reply->status == KAIIN__STATUS__OK)
        svc_db_fail (reply, request->db);
    if (locked && s_act (request, reply, act, locked) == 0) {
        if (pg_commit (request->db) == 0)
            rc = s_reply (request, reply, act->id);
        else
            svc_db_fail (reply, request->db);
    }
    if (rc == -1)
        pg_rollback (request->db);
    PQclear (locked);
    protobuf_c_message_free_unpacked (&act->base, NULL);
    return rc;
}

int
campaign_api_test (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__CampaignTestRequest *test = (Kaiin__Messaging__CampaignTestRequest *)
        svc_unpack (request, &kaiin__messaging__campaign_test_request__descriptor, reply);
    if (!test)
        return -1;
    if (!messaging_email (test->to))
        svc_field_error (reply, "to", "must be an email address");
    if (*test->member_id && !messaging_uuid (test->member_id))
        svc_field_error (reply, "member_id", "is not a member messaging knows");
    const char *id [] = { test->id };
    PGresult *found = reply->status == KAIIN__STATUS__OK && messaging_uuid (test->id)
        ? messaging_run (request, reply, "campaign_get", 1, id): NULL;
    bool failed = false;
    Kaiin__Messaging__Template *template = found && PQntuples (found)
        ? template_load (request->db, PQgetvalue (found, 0, PQfnumber (found, "template_id")), &failed): NULL;
    int rc = -1;
    if (failed)
        svc_db_fail (reply, request->db);
    else
    if (!template && reply->status == KAIIN__STATUS__OK)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "campaign not found");
    else
    if (template) {
        Kaiin__Messaging__CampaignTestReply answer = KAIIN__MESSAGING__CAMPAIGN_TEST_REPLY__INIT;
        char error [512] = "";
        int sent = mail_send_test (request->db, template, test->member_id, test->to,
                                   messaging_now (request), &answer, error, sizeof error);
        if (sent == -1)
            svc_db_fail (reply, request->db);
        else
        if (sent == 1)
            svc_field_error (reply, "member_id", "is not a member messaging knows");
        else
        if (sent == -2)
            svc_fail (reply, KAIIN__STATUS__UNAVAILABLE, "the relay did not take the test mail: %s", error);
        else
        if (sent == -3)
            svc_fail (reply, KAIIN__STATUS__UNAVAILABLE, "the mail cannot be made now: %s", error);
        else {
            rc = svc_reply_with (reply, &answer.base);
            free (answer.to);
            free (answer.subject);
            free (answer.message_id);
        }
        protobuf_c_message_free_unpacked (&template->base, NULL);
    }
    PQclear (found);
    protobuf_c_message_free_unpacked (&test->base, NULL);
    return rc;
}

int
campaign_start_due (pg_t *db, int64_t now_ms)
{
    char now [24];
    const char *params [] = { NUM (now, now_ms) };
    if (pg_begin (db) == -1)
        return -1;
    PGresult *due = pg_run (db, "campaign_due", 1, params);
    int rc = due? 0: -1;
    if (due && PQntuples (due)) {
        const char *id = PQgetvalue (due, 0, 0);
        rc = s_start (db, id, PQgetvalue (due, 0, 1), PQgetvalue (due, 0, 2), PQgetvalue (due, 0, 3), now_ms);
        if (rc == 1) {                  /* nothing to send it to any more */
            const char *moved [] = { id, "canceled", now, "0" };
            rc = s_run (db, "campaign_move", 4, moved);
        }
        rc = rc == 0? 1: -1;
    }
    PQclear (due);
    if (rc == -1 || pg_commit (db) == -1) {
        pg_rollback (db);
        return -1;
    }
    return rc;
}

int
campaign_guard (pg_t *db, const char *id, int64_t now_ms)
{
    char now [24];
    const char *params [] = { id, NUM (now, now_ms) };
    return s_run (db, "campaign_guard", 2, params);
}

int
campaign_finish (pg_t *db, int64_t now_ms)
{
    char now [24];
    const char *params [] = { NUM (now, now_ms) };
    PGresult *result = pg_run (db, "campaign_finish", 1, params);
    int finished = result? atoi (PQcmdTuples (result)): -1;
    PQclear (result);
    return finished;
}
