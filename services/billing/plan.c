/* plan.c - plans: price, tax, interval, trial, the rank subscribers get */
#include "plan.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_COLUMNS "id, code, name, amount, currency, tax_mode, tax_rate, interval," \
    " interval_count, trial_days, rank, status, " MS ("created_at") " as created_at_ms, " \
    MS ("updated_at") " as updated_at_ms, version, seq"

static const char *const s_statuses [] = { "active", "archived", NULL };

void
plan_prepare (pg_t *db)
{
    pg_prepare (db, "plan_insert",
            "insert into plans (code, name, amount, tax_mode, tax_rate, interval, interval_count,"
            " trial_days, rank, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
            AT ("$10") ", " AT ("$10") ") on conflict (code) do nothing returning " PLAN_COLUMNS);
    pg_prepare (db, "plan_get",
            "select " PLAN_COLUMNS " from plans where code = $1 or id::text = lower ($1)");
    pg_prepare (db, "plan_list",
            "select " PLAN_COLUMNS " from plans where seq < $1 and ($2 = '' or status = $2)"
            " order by seq desc limit $3");
    pg_prepare (db, "plan_update",
            "update plans set name = $2, trial_days = $3, rank = $4, status = $5,"
            " updated_at = " AT ("$7") ", version = version + 1"
            " where id = $1 and ($6::bigint = 0 or version = $6) returning " PLAN_COLUMNS);
}

Kaiin__Billing__Plan *
plan_find (svc_request_t *request, svc_reply_t *reply, const char *id_or_code, const char *field)
{
    const char *params [] = { id_or_code };
    Kaiin__Billing__Plan *plan = (Kaiin__Billing__Plan *) billing_get (request, reply, "plan_get", 1,
        params, &kaiin__billing__plan__descriptor, "plan not found");
    if (!plan && reply->status == KAIIN__STATUS__NOT_FOUND && field) {
        reply->status = KAIIN__STATUS__OK;
        svc_field_error (reply, field, "must be the id or code of a plan");
    }
    return plan;
}

static void
s_check_rank (svc_reply_t *reply, const char *rank)
{
    if (*rank && (strlen (rank) > 32 || strspn (rank, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen (rank)))
        svc_field_error (reply, "rank", "must be a rank code: up to 32 of a-z, 0-9, _");
}

static int
s_reply_plan (svc_reply_t *reply, PGresult *result)
{
    Kaiin__Billing__Plan *plan = (Kaiin__Billing__Plan *)
        pg_row_message (result, 0, &kaiin__billing__plan__descriptor);
    svc_reply_with (reply, &plan->base);
    protobuf_c_message_free_unpacked (&plan->base, NULL);
    return 0;
}

int
plan_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__Plan *plan = (Kaiin__Billing__Plan *)
        svc_unpack (request, &kaiin__billing__plan__descriptor, reply);
    if (!plan)
        return -1;
    billing_check_text (reply, "name", plan->name, 100);
    int max_count = strcmp (plan->interval, "year") == 0? 3: 12;
    int count = plan->interval_count? plan->interval_count: 1;
    if (count < 1 || count > max_count)
        svc_field_error (reply, "interval_count", "must be from 1 to %d", max_count);
    s_check_rank (reply, plan->rank);
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        char amount [24], rate [24], interval_count [24], trial [24], now [24];
        const char *params [] = { plan->code, plan->name, NUM (amount, plan->amount), plan->tax_mode,
                                  NUM (rate, plan->tax_rate), plan->interval, NUM (interval_count, count),
                                  NUM (trial, plan->trial_days), plan->rank, NUM (now, billing_now (request)) };
        PGresult *result = billing_run (request, reply, "plan_insert", 10, params);
        if (result && PQntuples (result) == 0) {
            svc_fail (reply, KAIIN__STATUS__ALREADY_EXISTS, "a plan with this code exists");
            svc_field_error (reply, "code", "is taken by another plan");
        }
        else
        if (result)
            rc = s_reply_plan (reply, result);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&plan->base, NULL);
    return rc;
}

int
plan_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__IdRequest *get = (Kaiin__Billing__IdRequest *)
        svc_unpack (request, &kaiin__billing__id_request__descriptor, reply);
    if (!get)
        return -1;
    Kaiin__Billing__Plan *plan = plan_find (request, reply, get->id, NULL);
    protobuf_c_message_free_unpacked (&get->base, NULL);
    if (!plan)
        return -1;
    svc_reply_with (reply, &plan->base);
    protobuf_c_message_free_unpacked (&plan->base, NULL);
    return 0;
}

int
plan_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__ListRequest *list = (Kaiin__Billing__ListRequest *)
        svc_unpack (request, &kaiin__billing__list_request__descriptor, reply);
    if (!list)
        return -1;
    char before [24], limit [24];
    billing_page (reply, list, before, limit);
    billing_check_enum (reply, "status", list->status, s_statuses, false);
    int rc = -1;
    PGresult *result = NULL;
    if (reply->status == KAIIN__STATUS__OK) {
        const char *params [] = { before, list->status, limit };
        result = billing_run (request, reply, "plan_list", 3, params);
    }
    if (result) {
        rc = billing_reply_rows (reply, result, atoi (limit), &kaiin__billing__plan_list__descriptor);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

int
plan_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__PlanUpdateRequest *update = (Kaiin__Billing__PlanUpdateRequest *)
        svc_unpack (request, &kaiin__billing__plan_update_request__descriptor, reply);
    if (!update)
        return -1;
    int rc = -1;
    Kaiin__Billing__Plan *plan = plan_find (request, reply, update->id, NULL);
    Kaiin__Billing__Plan *change = update->plan;
    if (plan && !change)
        svc_fail (reply, KAIIN__STATUS__INVALID_ARGUMENT, "nothing to change");
    else
    if (plan) {
        const char *name = SVC_MASKED (update, "name")? change->name: plan->name;
        int trial = SVC_MASKED (update, "trial_days")? change->trial_days: plan->trial_days;
        const char *rank = SVC_MASKED (update, "rank")? change->rank: plan->rank;
        const char *status = SVC_MASKED (update, "status")? change->status: plan->status;
        for (size_t i = 0; i < update->n_update_mask; i++)
            if (!billing_one_of (update->update_mask [i], (const char *const []) { "name", "trial_days", "rank", "status", NULL }))
                svc_field_error (reply, update->update_mask [i],
                                 "cannot be changed: a plan's price and interval are fixed; create a new plan");
        billing_check_text (reply, "name", name, 100);
        s_check_rank (reply, rank);
        if (reply->status == KAIIN__STATUS__OK) {
            char trial_text [24], version [24], now [24];
            const char *params [] = { plan->id, name, NUM (trial_text, trial), rank, status,
                                      NUM (version, update->if_version), NUM (now, billing_now (request)) };
            PGresult *result = billing_run (request, reply, "plan_update", 7, params);
            if (result && PQntuples (result) == 0)
                svc_fail (reply, KAIIN__STATUS__ABORTED, "the plan was changed meanwhile");
            else
            if (result)
                rc = s_reply_plan (reply, result);
            PQclear (result);
        }
    }
    if (plan)
        protobuf_c_message_free_unpacked (&plan->base, NULL);
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}
