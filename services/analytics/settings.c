/* settings.c - what staff tune in analytics: inactivity days, the churn-risk threshold and the
   purchase and spend milestones */
#include "settings.h"
#include "pg_row.h"
#include <stdio.h>
#include <string.h>

#define SETTINGS_COLUMNS "inactive_days, churn_risk_threshold, version, purchase_milestones," \
    " spend_milestones"
#define SETTINGS_ARRAY_SIZE (SETTINGS_MILESTONES_MAX * 21 + 3)   /* "{n,...}" of int64s */

void
settings_prepare (pg_t *db)
{
    pg_prepare (db, "settings_get", "select " SETTINGS_COLUMNS " from settings");
    pg_prepare (db, "settings_update",
            "update settings set inactive_days = $1, churn_risk_threshold = $2,"
            " purchase_milestones = $4::bigint [], spend_milestones = $5::bigint [],"
            " version = version + 1 where ($3::bigint = 0 or version = $3) returning " SETTINGS_COLUMNS);
}

Kaiin__Analytics__Settings *
settings_load (pg_t *db)
{
    PGresult *result = pg_run (db, "settings_get", 0, NULL);
    if (!result)
        return NULL;
    Kaiin__Analytics__Settings *settings = PQntuples (result) == 1? (Kaiin__Analytics__Settings *)
        pg_row_message (result, 0, &kaiin__analytics__settings__descriptor): NULL;
    PQclear (result);
    return settings;
}

int
settings_numbers (pg_t *db, int *inactive_days, int *churn_risk_threshold)
{
    Kaiin__Analytics__Settings *settings = settings_load (db);
    if (!settings)
        return -1;
    *inactive_days = settings->inactive_days;
    *churn_risk_threshold = settings->churn_risk_threshold;
    protobuf_c_message_free_unpacked (&settings->base, NULL);
    return 0;
}

static int
s_reply_with (svc_reply_t *reply, pg_t *db, Kaiin__Analytics__Settings *settings)
{
    if (!settings)
        return svc_db_fail (reply, db);
    svc_reply_with (reply, &settings->base);
    protobuf_c_message_free_unpacked (&settings->base, NULL);
    return 0;
}

int
settings_api_get (svc_request_t *request, svc_reply_t *reply)
{
    return s_reply_with (reply, request->db, settings_load (request->db));
}

/* Checks milestones (count of them) given as field: at most SETTINGS_MILESTONES_MAX, each 1..max
   and above the one before; field errors into reply. Writes them as an array literal into
   array (SETTINGS_ARRAY_SIZE bytes). */
static void
s_milestones (svc_reply_t *reply, const char *field, const int64_t *milestones, size_t count,
              int64_t max, char *array)
{
    if (count > SETTINGS_MILESTONES_MAX)
        svc_field_error (reply, field, "must have at most %d milestones", SETTINGS_MILESTONES_MAX);
    size_t length = (size_t) snprintf (array, SETTINGS_ARRAY_SIZE, "{");
    for (size_t i = 0; i < count && i < SETTINGS_MILESTONES_MAX; i++) {
        char item [64];
        snprintf (item, sizeof item, "%s[%zu]", field, i);
        if (milestones [i] < 1 || milestones [i] > max)
            svc_field_error (reply, item, "must be an integer from %lld to %lld", 1LL, (long long) max);
        else
        if (i > 0 && milestones [i] <= milestones [i - 1])
            svc_field_error (reply, item, "must be greater than the one before it");
        length += (size_t) snprintf (array + length, SETTINGS_ARRAY_SIZE - length, "%s%lld",
                                     i? ",": "", (long long) milestones [i]);
    }
    snprintf (array + length, SETTINGS_ARRAY_SIZE - length, "}");
}

int
settings_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__Settings *change = (Kaiin__Analytics__Settings *)
        svc_unpack (request, &kaiin__analytics__settings__descriptor, reply);
    if (!change)
        return -1;
    Kaiin__Analytics__Settings *now = settings_load (request->db);
    if (!now) {
        protobuf_c_message_free_unpacked (&change->base, NULL);
        return svc_db_fail (reply, request->db);
    }
    int days = SVC_MASKED (change, "inactive_days")? change->inactive_days: now->inactive_days;
    int threshold = SVC_MASKED (change, "churn_risk_threshold")? change->churn_risk_threshold
                                                               : now->churn_risk_threshold;
    const Kaiin__Analytics__Settings *purchases = SVC_MASKED (change, "purchase_milestones")? change: now;
    const Kaiin__Analytics__Settings *spends = SVC_MASKED (change, "spend_milestones")? change: now;
    char purchase_array [SETTINGS_ARRAY_SIZE], spend_array [SETTINGS_ARRAY_SIZE];
    s_milestones (reply, "purchase_milestones", purchases->purchase_milestones,
                  purchases->n_purchase_milestones, SETTINGS_PURCHASES_MAX, purchase_array);
    s_milestones (reply, "spend_milestones", spends->spend_milestones, spends->n_spend_milestones,
                  SETTINGS_SPEND_MAX, spend_array);
    protobuf_c_message_free_unpacked (&now->base, NULL);
    char days_text [16], threshold_text [16], version [24];
    snprintf (days_text, sizeof days_text, "%d", days);
    snprintf (threshold_text, sizeof threshold_text, "%d", threshold);
    snprintf (version, sizeof version, "%lld", (long long) change->if_version);
    protobuf_c_message_free_unpacked (&change->base, NULL);
    if (reply->status != KAIIN__STATUS__OK)
        return -1;
    const char *params [] = { days_text, threshold_text, version, purchase_array, spend_array };
    PGresult *result = pg_run (request->db, "settings_update", 5, params);
    if (!result)
        return svc_db_fail (reply, request->db);
    if (PQntuples (result) == 0) {
        PQclear (result);
        return svc_fail (reply, KAIIN__STATUS__ABORTED, "the settings were changed meanwhile");
    }
    Kaiin__Analytics__Settings *updated = (Kaiin__Analytics__Settings *)
        pg_row_message (result, 0, &kaiin__analytics__settings__descriptor);
    PQclear (result);
    return s_reply_with (reply, request->db, updated);
}
