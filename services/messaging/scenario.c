/* scenario.c - automations' scenarios: their steps (wait, send, tag, branch) and exit goal
   checked, members entering a run on each trigger occurrence, runs ended by the goal, and the
   tick advancing a batch of due runs one step each per transaction */
#include "scenario.h"
#include "log.h"
#include "mail.h"
#include "member.pb-c.h"
#include "template.h"
#include "trigger.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (24 * 60 * MINUTE_MS)
#define HOUR_MS (60 * MINUTE_MS)
#define JST_OFFSET_MS (9 * HOUR_MS)       /* Japan has no daylight saving time */
#define WAIT_MINUTES_MAX (366 * 24 * 60)
#define WAIT_DAYS_MAX 366
#define TAG_MAX_CHARS 50                  /* member's limit of a tag */
#define TAG_TIMEOUT_MS 5000
#define TAG_RETRY_MS MINUTE_MS            /* member did not answer: the step runs again then */
#define RUN_BATCH "32"                    /* the due runs a tick takes a step on in one
                                             transaction (automation_runs_due_order, 015) */

void
scenario_prepare (pg_t *db)
{
    pg_prepare (db, "scenario_version",
            "insert into automation_versions (automation_id, version, scenario)"
            " values ($1, $2, $3::jsonb) on conflict do nothing");
    pg_prepare (db, "scenario_goal",
            "update automation_runs r set status = 'goal', updated_at_ms = $5"
            " from automation_versions v where r.member_id = $1 and r.status = 'active'"
            " and v.automation_id = r.automation_id and v.version = r.version"
            " and v.scenario -> 'goal' ->> 'source' = $2 and v.scenario -> 'goal' ->> 'event_type' = $3"
            " and r.entered_at_ms <= $4");
    pg_prepare (db, "scenario_backfill",
            "insert into automation_runs (automation_id, version, member_id, event_id, event_json,"
            " entered_at_ms, due_at_ms, updated_at_ms, exclusive)"
            " select a.id, a.version, e.member_id, e.event_id, e.event_json, e.occurred_at_ms,"
            " e.occurred_at_ms, $2, " SCENARIO_EXCLUSIVE " from automations a"
            " join member_events e on e.source = a.source and e.event_type = a.event_type"
            " and e.occurred_at_ms >= a.starts_at_ms and (a.nth = 0 or a.nth = e.nth)"
            " join members m on m.id = e.member_id"
            " where a.id = $1 and a.active order by e.occurred_at_ms on conflict do nothing");
    pg_prepare (db, "scenario_due",
            "select r.id, r.automation_id, r.member_id, r.event_id, r.event_json::text,"
            " r.entered_at_ms, r.position, r.due_at_ms, v.scenario::text,"
            " coalesce (p.status, ''), coalesce (p.last_login_at_ms, 0),"
            " coalesce ((select case when x.clicked_at_ms > 0 then x.clicked_at_ms - x.sent_at_ms"
            " else -1 end from mails x where x.id = r.last_mail_id), -1)"
            " from automation_runs r join automation_versions v on v.automation_id = r.automation_id"
            " and v.version = r.version left join members p on p.id = r.member_id"
            " where r.status = 'active' and r.due_at_ms <= $1 order by r.due_at_ms, r.seq"
            " limit " RUN_BATCH
            " for update of r skip locked");
    /* A tag step member answered (s_tag, after the commit): the run goes on from where it
       was, unless something moved it meanwhile (its goal, a tick that found the lease over). */
    pg_prepare (db, "scenario_tagged",
            "update automation_runs set position = $2, due_at_ms = $3, status = $4, updated_at_ms = $5"
            " where id = $1 and status = 'active' and position = $6 and due_at_ms = $7");
    pg_prepare (db, "scenario_move",
            "update automation_runs set position = $2, due_at_ms = $3, status = $4,"
            " last_mail_id = coalesce (nullif ($5, '')::uuid, last_mail_id), updated_at_ms = $6"
            " where id = $1");
}

/* --- checking ---------------------------------------------------------------------------- */

/* An integer member of object, or -1 when absent or not an integer from 0 to max. */
static json_int_t
s_integer (json_t *object, const char *key, json_int_t max)
{
    json_t *value = json_object_get (object, key);
    return json_is_integer (value) && json_integer_value (value) >= 0
        && json_integer_value (value) <= max? json_integer_value (value): -1;
}

/* True when object holds no key but those of keys (space-separated); else the error names
   path.<key>. */
static bool
s_keys_known (svc_reply_t *reply, const char *path, json_t *object, const char *keys)
{
    const char *key;
    json_t *value;
    bool known = true;
    json_object_foreach (object, key, value) {
        const char *at = strstr (keys, key);
        size_t length = strlen (key);
        if (!at || (at != keys && at [-1] != ' ') || (at [length] != ' ' && at [length] != 0)) {
            svc_field_error (reply, path, "has an unknown key '%s': it takes %s", key, keys);
            known = false;
        }
    }
    return known;
}

/* "HH:MM" (00:00 to 23:59) as milliseconds after midnight, or -1. */
static int64_t
s_time_of_day (const char *text)
{
    if (!text || strlen (text) != 5 || text [2] != ':' || strspn (text, "0123456789:") != 5)
        return -1;
    int hours = atoi (text), minutes = atoi (text + 3);
    return hours < 24 && minutes < 60? hours * HOUR_MS + minutes * MINUTE_MS: -1;
}

static void
s_check_wait (svc_reply_t *reply, const char *path, json_t *wait)
{
    char field [96];
    if (!s_keys_known (reply, path, wait, "minutes days at"))
        return;
    bool minutes = json_object_get (wait, "minutes") != NULL;
    if (minutes == (json_object_get (wait, "days") != NULL))
        svc_field_error (reply, path, "must give minutes (after the previous step) or days and at"
                         " (after the trigger, at a time of day in JST)");
    else
    if (minutes) {
        snprintf (field, sizeof field, "%s.minutes", path);
        if (s_integer (wait, "minutes", WAIT_MINUTES_MAX) < 0)
            svc_field_error (reply, field, "must be an integer from 0 to %d", WAIT_MINUTES_MAX);
        if (json_object_get (wait, "at"))
            svc_field_error (reply, path, "takes at with days only");
    }
    else {
        snprintf (field, sizeof field, "%s.days", path);
        if (s_integer (wait, "days", WAIT_DAYS_MAX) < 0)
            svc_field_error (reply, field, "must be an integer from 0 to %d", WAIT_DAYS_MAX);
        snprintf (field, sizeof field, "%s.at", path);
        if (s_time_of_day (json_string_value (json_object_get (wait, "at"))) < 0)
            svc_field_error (reply, field, "must be a time of day in JST, HH:MM (00:00 to 23:59)");
    }
}

/* What a send step may attach: billing's PDF of the invoice the trigger names, so only for a
   trigger among billing's invoice events; a receipt exists once the invoice is paid. */
static void
s_check_attach (svc_reply_t *reply, const char *path, json_t *send, const char *source,
                const char *event_type)
{
    json_t *attach = json_object_get (send, "attach");
    if (!attach)
        return;
    char field [96];
    snprintf (field, sizeof field, "%s.attach", path);
    const char *kind = json_string_value (attach);
    bool receipt = kind && strcmp (kind, "receipt") == 0;
    if (!kind || (!receipt && strcmp (kind, "invoice") != 0))
        svc_field_error (reply, field, "must be invoice or receipt (the PDF of the trigger's invoice)");
    else
    if (strcmp (source, "billing") != 0 || strncmp (event_type, "invoice.", 8) != 0)
        svc_field_error (reply, field, "needs a trigger of billing's invoice events (invoice.paid, invoice.overdue …)");
    else
    if (receipt && strcmp (event_type, "invoice.paid") != 0)
        svc_field_error (reply, field, "needs the trigger invoice.paid: only a paid invoice has a receipt");
}

static int
s_check_send (svc_request_t *request, svc_reply_t *reply, const char *path, json_t *send,
              const char *source, const char *event_type)
{
    char field [96];
    snprintf (field, sizeof field, "%s.template_id", path);
    if (!s_keys_known (reply, path, send, "template_id attach"))
        return 0;
    s_check_attach (reply, path, send, source, event_type);
    const char *id = json_string_value (json_object_get (send, "template_id"));
    int usable = id? template_usable (request->db, id): 0;
    if (usable == -1)
        return svc_db_fail (reply, request->db);
    if (usable == 0)
        svc_field_error (reply, field, "is not a template");
    return 0;
}

static void
s_check_tag (svc_reply_t *reply, const char *path, json_t *tag)
{
    char field [96];
    if (!s_keys_known (reply, path, tag, "add remove"))
        return;
    if (json_object_size (tag) != 1) {
        svc_field_error (reply, path, "must give add or remove, a tag");
        return;
    }
    const char *key = json_object_get (tag, "add")? "add": "remove";
    snprintf (field, sizeof field, "%s.%s", path, key);
    const char *name = json_string_value (json_object_get (tag, key));
    if (!name)
        svc_field_error (reply, field, "must be a tag");
    else
        messaging_check_text (reply, field, name, TAG_MAX_CHARS, false);
}

static void
s_check_branch (svc_reply_t *reply, const char *path, json_t *branch, size_t index, size_t count)
{
    char field [96];
    if (!s_keys_known (reply, path, branch, "if days goto"))
        return;
    const char *condition = json_string_value (json_object_get (branch, "if"));
    bool clicked = condition && strcmp (condition, "clicked") == 0;
    snprintf (field, sizeof field, "%s.if", path);
    if (!condition || (!clicked && strcmp (condition, "logged_in") != 0))
        svc_field_error (reply, field, "must be logged_in (since the run began) or clicked (the"
                         " previous mail, within days of its sending)");
    snprintf (field, sizeof field, "%s.days", path);
    if (clicked && s_integer (branch, "days", WAIT_DAYS_MAX) < 1)
        svc_field_error (reply, field, "must be an integer from 1 to %d", WAIT_DAYS_MAX);
    if (!clicked && json_object_get (branch, "days"))
        svc_field_error (reply, field, "is taken by if clicked only");
    snprintf (field, sizeof field, "%s.goto", path);
    json_int_t target = s_integer (branch, "goto", (json_int_t) count);
    if (target <= (json_int_t) index)
        svc_field_error (reply, field, "must be a later step's index, from %zu to %zu (%zu: the end)",
                         index + 1, count, count);
}

/* The step kinds, each one key of a step object. */
static const char *const s_kinds [] = { "wait", "send", "tag", "branch", NULL };

int
scenario_check (svc_request_t *request, svc_reply_t *reply, json_t *scenario, const char *source,
                const char *event_type)
{
    if (!s_keys_known (reply, "scenario", scenario, "steps goal"))
        return 0;
    json_t *steps = json_object_get (scenario, "steps");
    size_t count = json_array_size (steps);
    if (!json_is_array (steps) || count < 1 || count > SCENARIO_STEPS_MAX)
        svc_field_error (reply, "scenario.steps", "must be an array of 1 to %d steps", SCENARIO_STEPS_MAX);
    for (size_t i = 0; i < count && i < SCENARIO_STEPS_MAX; i++) {
        json_t *step = json_array_get (steps, i);
        char path [64];
        snprintf (path, sizeof path, "scenario.steps[%zu]", i);
        const char *kind = json_is_object (step) && json_object_size (step) == 1
            ? json_object_iter_key (json_object_iter (step)): NULL;
        int known = -1;
        for (int k = 0; kind && s_kinds [k]; k++)
            if (strcmp (kind, s_kinds [k]) == 0)
                known = k;
        json_t *body = kind? json_object_get (step, kind): NULL;
        if (known < 0 || !json_is_object (body)) {
            svc_field_error (reply, path, "must be one of {\"wait\": {…}}, {\"send\": {…}},"
                             " {\"tag\": {…}}, {\"branch\": {…}}");
            continue;
        }
        snprintf (path + strlen (path), sizeof path - strlen (path), ".%s", kind);
        if (known == 0)
            s_check_wait (reply, path, body);
        else
        if (known == 1 && s_check_send (request, reply, path, body, source, event_type) == -1)
            return -1;
        else
        if (known == 2)
            s_check_tag (reply, path, body);
        else
        if (known == 3)
            s_check_branch (reply, path, body, i, count);
    }
    json_t *goal = json_object_get (scenario, "goal");
    if (goal && !json_is_object (goal))
        svc_field_error (reply, "scenario.goal", "must be an object: {\"source\", \"event_type\"}");
    else
    if (goal && s_keys_known (reply, "scenario.goal", goal, "source event_type")) {
        const char *goal_source = json_string_value (json_object_get (goal, "source"));
        if (!goal_source || !trigger_source_known (goal_source))
            svc_field_error (reply, "scenario.goal.source", "must be a service whose events messaging reads");
        if (!trigger_event_type_valid (json_string_value (json_object_get (goal, "event_type"))))
            svc_field_error (reply, "scenario.goal.event_type", "must be an event type such as member.logged_in");
    }
    return 0;
}

char *
scenario_one_step (const char *template_id, int64_t delay_minutes)
{
    json_t *steps = json_array ();
    if (delay_minutes > 0)
        json_array_append_new (steps, json_pack ("{s:{s:I}}", "wait", "minutes", (json_int_t) delay_minutes));
    json_array_append_new (steps, json_pack ("{s:{s:s}}", "send", "template_id", template_id));
    json_t *scenario = json_pack ("{s:o}", "steps", steps);
    char *text = json_dumps (scenario, JSON_COMPACT);
    json_decref (scenario);
    return text;
}

int
scenario_save_version (pg_t *db, const char *automation_id, int64_t version, const char *scenario)
{
    char number [24];
    const char *params [] = { automation_id, NUM (number, version), scenario };
    PGresult *result = pg_run (db, "scenario_version", 3, params);
    PQclear (result);
    return result? 0: -1;
}

/* --- entering and leaving ---------------------------------------------------------------- */

int
scenario_goal (pg_t *db, const Kaiin__Event *event, const char *member_id, int64_t now_ms)
{
    char occurred [24], now [24];
    const char *params [] = { member_id, event->source, event->type,
                              NUM (occurred, event->occurred_at_ms), NUM (now, now_ms) };
    return pg_defer (db, "scenario_goal", 5, params);
}

int
scenario_backfill (pg_t *db, const char *automation_id, int64_t now_ms)
{
    char now [24];
    const char *params [] = { automation_id, NUM (now, now_ms) };
    PGresult *result = pg_run (db, "scenario_backfill", 2, params);
    if (!result)
        return -1;
    int entered = atoi (PQcmdTuples (result));
    PQclear (result);
    return entered;
}

/* --- running ----------------------------------------------------------------------------- */

/* A due run, as scenario_due reads it, and what its step decides. */
typedef struct {
    const char *id, *automation_id, *member_id, *event_id, *event_json, *member_status;
    int64_t entered_at_ms, due_at_ms, last_login_at_ms, click_after_ms;
    int position;
    /* the step's outcome */
    int next;                           /* the position after it */
    int64_t next_due_ms;
    char mail_id [40];                  /* a send's mail, else "" */
    json_t *tag;                        /* a tag step's body, for member after the commit */
} run_t;

/* A tag step taken in the tick's transaction and asked of member after its commit: no
   transaction and no lock of messaging's waits for member. Meanwhile the run is leased: due
   TAG_RETRY_MS on, as when member does not answer, so no other tick takes it; a crash before
   member answered or the run moved on asks again then (adding or removing a tag twice changes
   nothing). */
typedef struct {
    char id [40], member_id [40], name [256];   /* name: the tag, "" when the row has none */
    bool add;
    int position, next;
    const char *status;                 /* the run's after the step: "active" or "done" */
    int64_t due_at_ms, lease_ms;
} s_tagging_t;

/* When a wait step lets the run go on. */
static int64_t
s_wait_until (const run_t *run, json_t *wait)
{
    json_t *minutes = json_object_get (wait, "minutes");
    if (minutes)
        return run->due_at_ms + json_integer_value (minutes) * MINUTE_MS;
    int64_t day = (run->entered_at_ms + JST_OFFSET_MS) / DAY_MS * DAY_MS - JST_OFFSET_MS;
    int64_t until = day + json_integer_value (json_object_get (wait, "days")) * DAY_MS
                  + s_time_of_day (json_string_value (json_object_get (wait, "at")));
    return until > run->due_at_ms? until: run->due_at_ms;        /* a time passed: at once */
}

/* Asks member to add or remove the tag. Returns 0 (done, or refused for good: logged), or 1
   when member did not answer (the step is tried again later). */
static int
s_tag (const s_tagging_t *tagging)
{
    Kaiin__Member__TagRequest request = KAIIN__MEMBER__TAG_REQUEST__INIT;
    char *name = (char *) tagging->name;
    request.id = (char *) tagging->member_id;
    if (tagging->add) {
        request.add = &name;
        request.n_add = 1;
    }
    else {
        request.remove = &name;
        request.n_remove = 1;
    }
    ProtobufCMessage *member = NULL;
    Kaiin__Status status = svc_call ("member.Tag", &request.base, &kaiin__member__member__descriptor,
                                     &member, TAG_TIMEOUT_MS);
    if (member)
        protobuf_c_message_free_unpacked (member, NULL);
    if (status == KAIIN__STATUS__UNAVAILABLE || status == KAIIN__STATUS__DEADLINE_EXCEEDED
    ||  status == KAIIN__STATUS__INTERNAL)
        return 1;
    if (status != KAIIN__STATUS__OK)
        log_warn ("run '%s': member.Tag of '%s' for member '%s' answered %d, step skipped",
                  tagging->id, name, tagging->member_id, (int) status);
    return 0;
}

/* Asks member for the tag of tagging's run, after the tick's commit, and moves the run on
   when member answered. Returns 0, 1 when member did not answer (the lease stands: the step
   runs again then), or -1. */
static int
s_tag_after (pg_t *db, const s_tagging_t *tagging, int64_t now_ms)
{
    if (s_tag (tagging) == 1)
        return 1;
    char next [24], due [24], now [24], position [24], lease [24];
    const char *params [] = { tagging->id, NUM (next, tagging->next), NUM (due, tagging->due_at_ms),
                              tagging->status, NUM (now, now_ms), NUM (position, tagging->position),
                              NUM (lease, tagging->lease_ms) };
    PGresult *moved = pg_run (db, "scenario_tagged", 7, params);
    PQclear (moved);
    return moved? 0: -1;
}

/* Does the run's step in the open transaction, setting its outcome. Returns 0 or -1. */
static int
s_step (pg_t *db, run_t *run, json_t *step, int64_t now_ms)
{
    const char *kind = json_object_iter_key (json_object_iter (step));
    json_t *body = json_object_iter_value (json_object_iter (step));
    run->next = run->position + 1;
    run->next_due_ms = run->due_at_ms;
    if (strcmp (kind, "wait") == 0)
        run->next_due_ms = s_wait_until (run, body);
    else
    if (strcmp (kind, "send") == 0)
        return mail_enqueue (db, json_string_value (json_object_get (body, "template_id")),
                             run->member_id, run->automation_id, run->event_id, run->event_json,
                             json_string_value (json_object_get (body, "attach")),
                             run->position, run->due_at_ms, now_ms, run->mail_id);
    else
    if (strcmp (kind, "tag") == 0) {    /* member is asked after the commit: leased till then */
        run->tag = body;
        run->next = run->position;
        run->next_due_ms = now_ms + TAG_RETRY_MS;
    }
    else
    if (strcmp (kind, "branch") == 0) {
        const char *condition = json_string_value (json_object_get (body, "if"));
        bool holds = strcmp (condition, "logged_in") == 0
            ? run->last_login_at_ms > run->entered_at_ms
            : run->click_after_ms >= 0
              && run->click_after_ms <= json_integer_value (json_object_get (body, "days")) * DAY_MS;
        if (holds)
            run->next = (int) json_integer_value (json_object_get (body, "goto"));
    }
    return 0;
}

/* Takes the run of row of due a step on in the open transaction (one step, or its end); a
   tag step leases the run and fills tagging in, for s_tag_after. Returns 0 or -1. */
static int
s_advance (pg_t *db, PGresult *due, int row, s_tagging_t *tagging, int64_t now_ms)
{
    run_t run = {
        .id = PQgetvalue (due, row, 0), .automation_id = PQgetvalue (due, row, 1),
        .member_id = PQgetvalue (due, row, 2), .event_id = PQgetvalue (due, row, 3),
        .event_json = PQgetvalue (due, row, 4), .entered_at_ms = atoll (PQgetvalue (due, row, 5)),
        .position = atoi (PQgetvalue (due, row, 6)), .due_at_ms = atoll (PQgetvalue (due, row, 7)),
        .member_status = PQgetvalue (due, row, 9), .last_login_at_ms = atoll (PQgetvalue (due, row, 10)),
        .click_after_ms = atoll (PQgetvalue (due, row, 11))
    };
    run.next = run.position;
    run.next_due_ms = run.due_at_ms;
    json_t *scenario = json_loads (PQgetvalue (due, row, 8), 0, NULL);
    json_t *steps = json_object_get (scenario, "steps");
    json_t *step = json_array_get (steps, (size_t) run.position);
    const char *status = "active";
    int rc = 0;
    if (strcmp (run.member_status, "withdrawn") == 0)
        status = "canceled";
    else
    if (!step)
        status = "done";
    else
        rc = s_step (db, &run, step, now_ms);
    if (strcmp (status, "active") == 0 && (size_t) run.next >= json_array_size (steps))
        status = "done";
    char position [24], next_due [24], now [24];
    const char *move [] = { run.id, NUM (position, run.next), NUM (next_due, run.next_due_ms),
                            status, run.mail_id, NUM (now, now_ms) };
    PGresult *moved = rc == 0? pg_run (db, "scenario_move", 6, move): NULL;
    if (run.tag && strcmp (status, "active") == 0) {
        const char *name = json_string_value (json_object_get (run.tag, "add"));
        tagging->add = name != NULL;
        if (!name)
            name = json_string_value (json_object_get (run.tag, "remove"));
        snprintf (tagging->id, sizeof tagging->id, "%s", run.id);
        snprintf (tagging->member_id, sizeof tagging->member_id, "%s", run.member_id);
        snprintf (tagging->name, sizeof tagging->name, "%s", name? name: "");
        tagging->position = run.position;
        tagging->next = run.position + 1;
        tagging->status = (size_t) tagging->next >= json_array_size (steps)? "done": "active";
        tagging->due_at_ms = run.due_at_ms;
        tagging->lease_ms = run.next_due_ms;
    }
    json_decref (scenario);
    PQclear (moved);
    return moved? 0: -1;
}

int
scenario_tick (pg_t *db, int64_t now_ms)
{
    int done;
    PGresult *due = messaging_take_due (db, "scenario_due", now_ms, &done);
    if (!due)
        return done;
    int rows = PQntuples (due), rc = 0;
    s_tagging_t *taggings = calloc ((size_t) rows, sizeof *taggings);
    for (int row = 0; row < rows && rc == 0; row++)
        rc = taggings? s_advance (db, due, row, &taggings [row], now_ms): -1;
    PQclear (due);
    if (rc == 0 && pg_commit (db) == 0) {
        /* member not answering once, the batch's other tag steps wait out their lease too
           rather than each waiting TAG_TIMEOUT_MS for it */
        for (int row = 0; row < rows && rc == 0; row++)
            rc = *taggings [row].name? s_tag_after (db, &taggings [row], now_ms): 0;
        rc = rc == 1? 0: rc;
    }
    else {
        pg_rollback (db);
        rc = -1;
    }
    free (taggings);
    return rc == 0? rows: -1;
}
