/* automation.c - automations: a trigger (an event of a source, "the member's nth") and the
   scenario it starts, kept in versions */
#include "automation.h"
#include "scenario.h"
#include "template.h"
#include "trigger.h"
#include <stdlib.h>
#include <string.h>

#define AUTOMATION_COLUMNS "id, name, source, event_type, nth, active, starts_at_ms, created_at_ms," \
    " version, scenario::text as scenario_json, seq"
#define NTH_MAX 100000

void
automation_prepare (pg_t *db)
{
    pg_prepare (db, "automation_insert",
            "insert into automations (name, source, event_type, nth, active, starts_at_ms,"
            " created_at_ms, scenario) values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)"
            " returning " AUTOMATION_COLUMNS);
    pg_prepare (db, "automation_get",
            "select " AUTOMATION_COLUMNS " from automations where id = $1");
    pg_prepare (db, "automation_list",
            "select " AUTOMATION_COLUMNS " from automations where seq < $1 order by seq desc limit $2");
    /* An automation's runs, newest first (automation_runs_list, migration 017). */
    pg_prepare (db, "automation_runs",
            "select id, automation_id, version, member_id, event_id, entered_at_ms, status, position,"
            " due_at_ms, coalesce (last_mail_id::text, '') as last_mail_id, updated_at_ms, seq"
            " from automation_runs where automation_id = $1 and ($2 = '' or member_id = $2::uuid)"
            " and ($3 = '' or status = $3) and seq < $4 order by seq desc limit $5");
    pg_prepare (db, "automation_update",
            "update automations set name = $2, nth = $3, active = $4, scenario = $5::jsonb,"
            " version = version + 1 where id = $1 and ($6::bigint = 0 or version = $6)"
            " returning " AUTOMATION_COLUMNS);
}

/* Field errors for an automation as it would be saved: its trigger and its scenario (the
   templates it sends included). Returns 0, or -1 on a database error (set on reply). */
static int
s_check (svc_request_t *request, svc_reply_t *reply, const Kaiin__Messaging__Automation *automation)
{
    messaging_check_text (reply, "name", automation->name, 100, false);
    if (!trigger_source_known (automation->source))
        svc_field_error (reply, "source", "must be a service whose events messaging reads");
    if (!trigger_event_type_valid (automation->event_type))
        svc_field_error (reply, "event_type", "must be an event type such as member.registered");
    if (automation->nth < 0 || automation->nth > NTH_MAX)
        svc_field_error (reply, "nth", "must be from 0 to %d", NTH_MAX);
    json_t *scenario = json_loads (automation->scenario_json, 0, NULL);
    int rc = scenario
        ? scenario_check (request, reply, scenario, automation->source, automation->event_type): 0;
    if (!scenario)
        svc_field_error (reply, "scenario", "must be a JSON object");
    json_decref (scenario);
    return rc;
}

/* Saves the new row's scenario as its version, and enters the members of the events already
   consumed that it is asked to cover (starts_at in the past, or consumed while it was being
   written). Returns 0 or -1. */
static int
s_start (pg_t *db, const Kaiin__Messaging__Automation *created, int64_t now_ms)
{
    return scenario_save_version (db, created->id, created->version, created->scenario_json) == 0
        && scenario_backfill (db, created->id, now_ms) >= 0? 0: -1;
}

int
automation_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__Automation *automation = (Kaiin__Messaging__Automation *)
        svc_unpack (request, &kaiin__messaging__automation__descriptor, reply);
    if (!automation)
        return -1;
    /* Without a scenario, template_id (and delay_minutes) make the one-step one. */
    bool shorthand = *automation->template_id || automation->delay_minutes;
    if (*automation->scenario_json && shorthand)
        svc_field_error (reply, "scenario", "is given with template_id or delay_minutes: give one or the other");
    else
    if (!*automation->scenario_json && !*automation->template_id)
        svc_field_error (reply, "scenario", "is required (or template_id, for the one-step scenario)");
    int usable = shorthand && reply->status == KAIIN__STATUS__OK
        ? template_usable (request->db, automation->template_id): 1;
    if (usable == -1)
        svc_db_fail (reply, request->db);
    else
    if (usable == 0)
        svc_field_error (reply, "template_id", "is not a template");
    char *one_step = reply->status == KAIIN__STATUS__OK && shorthand
        ? scenario_one_step (automation->template_id, automation->delay_minutes): NULL;
    if (one_step)
        automation->scenario_json = one_step;      /* given back before the message is freed */
    int rc = reply->status == KAIIN__STATUS__OK? s_check (request, reply, automation): -1;
    if (rc == 0 && reply->status == KAIIN__STATUS__OK) {
        int64_t now_ms = messaging_now (request);
        char nth [24], starts [24], now [24];
        const char *params [] = {
            automation->name, automation->source, automation->event_type,
            NUM (nth, automation->nth), automation->active? "t": "f",
            NUM (starts, automation->starts_at_ms? automation->starts_at_ms: now_ms), NUM (now, now_ms),
            automation->scenario_json
        };
        rc = -1;
        if (pg_begin (request->db) == 0) {
            PGresult *result = messaging_run (request, reply, "automation_insert", 8, params);
            Kaiin__Messaging__Automation *created = result
                ? (Kaiin__Messaging__Automation *) pg_row_message (result, 0, &kaiin__messaging__automation__descriptor)
                : NULL;
            if (created && s_start (request->db, created, now_ms) == 0 && pg_commit (request->db) == 0)
                rc = svc_reply_with (reply, &created->base);
            else
            if (result)
                svc_db_fail (reply, request->db);
            if (created)
                protobuf_c_message_free_unpacked (&created->base, NULL);
            PQclear (result);
        }
        if (rc == -1)
            pg_rollback (request->db);
    }
    if (one_step) {
        automation->scenario_json = NULL;
        free (one_step);
    }
    protobuf_c_message_free_unpacked (&automation->base, NULL);
    return rc == 0 && reply->status == KAIIN__STATUS__OK? 0: -1;
}

int
automation_api_get (svc_request_t *request, svc_reply_t *reply)
{
    return messaging_reply_by_id (request, reply, "automation_get",
                                  &kaiin__messaging__automation__descriptor, "automation not found");
}

int
automation_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__ListRequest *list = (Kaiin__Messaging__ListRequest *)
        svc_unpack (request, &kaiin__messaging__list_request__descriptor, reply);
    if (!list)
        return -1;
    const char *params [2];
    int rc = messaging_reply_list (request, reply, "automation_list", 2, params, list,
                                   &kaiin__messaging__automation_list__descriptor);
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

int
automation_api_runs (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__AutomationRunsRequest *runs = (Kaiin__Messaging__AutomationRunsRequest *)
        svc_unpack (request, &kaiin__messaging__automation_runs_request__descriptor, reply);
    if (!runs)
        return -1;
    if (*runs->member_id && !messaging_uuid (runs->member_id))
        svc_field_error (reply, "member_id", "must be a member id");
    const char *params [5] = { runs->id, runs->member_id, runs->status };
    PGresult *found = messaging_uuid (runs->id) && reply->status == KAIIN__STATUS__OK
        ? messaging_run (request, reply, "automation_get", 1, params): NULL;
    int rc = -1;
    if (found && PQntuples (found) == 1) {
        Kaiin__Messaging__ListRequest page = KAIIN__MESSAGING__LIST_REQUEST__INIT;
        page.limit = runs->limit;
        page.cursor = runs->cursor;
        rc = messaging_reply_list (request, reply, "automation_runs", 5, params, &page,
                                   &kaiin__messaging__automation_run_list__descriptor);
    }
    else
    if (reply->status == KAIIN__STATUS__OK)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "automation not found");
    PQclear (found);
    protobuf_c_message_free_unpacked (&runs->base, NULL);
    return rc;
}

/* Applies the update to the row, and keeps the row's scenario as its new version (runs that
   enter from now on follow it; those under way keep theirs). Returns 0 or -1. */
static int
s_update (svc_request_t *request, svc_reply_t *reply, const char *const *params)
{
    if (pg_begin (request->db) == -1)
        return svc_db_fail (reply, request->db);
    PGresult *result = messaging_run (request, reply, "automation_update", 6, params);
    int rc = -1;
    if (result && PQntuples (result) == 0)
        svc_fail (reply, KAIIN__STATUS__ABORTED, "the automation was changed meanwhile");
    else
    if (result) {
        Kaiin__Messaging__Automation *updated = (Kaiin__Messaging__Automation *)
            pg_row_message (result, 0, &kaiin__messaging__automation__descriptor);
        if (scenario_save_version (request->db, updated->id, updated->version, updated->scenario_json) == 0
        &&  pg_commit (request->db) == 0)
            rc = svc_reply_with (reply, &updated->base);
        else
            svc_db_fail (reply, request->db);
        protobuf_c_message_free_unpacked (&updated->base, NULL);
    }
    PQclear (result);
    if (rc == -1)
        pg_rollback (request->db);
    return rc;
}

int
automation_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__AutomationUpdateRequest *update = (Kaiin__Messaging__AutomationUpdateRequest *)
        svc_unpack (request, &kaiin__messaging__automation_update_request__descriptor, reply);
    if (!update)
        return -1;
    const char *id [] = { update->id };
    PGresult *found = messaging_uuid (update->id)? messaging_run (request, reply, "automation_get", 1, id): NULL;
    int rc = -1;
    if (found && PQntuples (found) == 1) {
        Kaiin__Messaging__Automation *now = (Kaiin__Messaging__Automation *)
            pg_row_message (found, 0, &kaiin__messaging__automation__descriptor);
        Kaiin__Messaging__Automation merged = *now;
        const Kaiin__Messaging__Automation *change = update->automation;
        if (change) {
            if (SVC_MASKED (update, "name")) merged.name = change->name;
            if (SVC_MASKED (update, "nth")) merged.nth = change->nth;
            if (SVC_MASKED (update, "active")) merged.active = change->active;
            if (SVC_MASKED (update, "scenario")) merged.scenario_json = change->scenario_json;
        }
        if (s_check (request, reply, &merged) == 0 && reply->status == KAIIN__STATUS__OK) {
            char nth [24], version [24];
            const char *params [] = { update->id, merged.name, NUM (nth, merged.nth),
                                      merged.active? "t": "f", merged.scenario_json,
                                      NUM (version, update->if_version) };
            rc = s_update (request, reply, params);
        }
        protobuf_c_message_free_unpacked (&now->base, NULL);
    }
    else
    if (reply->status == KAIIN__STATUS__OK)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "automation not found");
    PQclear (found);
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}
