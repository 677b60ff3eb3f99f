/* settings.c - the issuer's name and registration number, the dunning schedule, expiries, and how
   long a company on terms may leave an invoice unpaid */
#include "settings.h"
#include <stdio.h>
#include <string.h>

#define SETTINGS_COLUMNS "issuer_name, registration_number, retry_days, final_action," \
    " konbini_expiry_days, invoice_due_days, version, terms_suspend_after_days"
#define RETRIES_MAX 10

static const char *const s_final_actions [] = { "cancel", "unpaid", NULL };

void
settings_prepare (pg_t *db)
{
    pg_prepare (db, "settings_get", "select " SETTINGS_COLUMNS " from settings");
    pg_prepare (db, "settings_update",
            "update settings set issuer_name = $1, registration_number = $2, retry_days = $3::int [],"
            " final_action = $4, konbini_expiry_days = $5, invoice_due_days = $6, terms_suspend_after_days = $8,"
            " version = version + 1 where ($7::bigint = 0 or version = $7) returning " SETTINGS_COLUMNS);
}

Kaiin__Billing__Settings *
settings_load (pg_t *db)
{
    PGresult *result = pg_run (db, "settings_get", 0, NULL);
    if (!result)
        return NULL;
    Kaiin__Billing__Settings *settings = (Kaiin__Billing__Settings *)
        pg_row_message (result, 0, &kaiin__billing__settings__descriptor);
    PQclear (result);
    return settings;
}

int
settings_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__Settings *settings = settings_load (request->db);
    if (!settings)
        return svc_db_fail (reply, request->db);
    svc_reply_with (reply, &settings->base);
    protobuf_c_message_free_unpacked (&settings->base, NULL);
    return 0;
}

static bool
s_registration_number (const char *text)
{
    return text [0] == 'T' && strlen (text) == 14 && strspn (text + 1, "0123456789") == 13;
}

int
settings_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__Settings *change = (Kaiin__Billing__Settings *)
        svc_unpack (request, &kaiin__billing__settings__descriptor, reply);
    if (!change)
        return -1;
    Kaiin__Billing__Settings *now = settings_load (request->db);
    if (!now) {
        protobuf_c_message_free_unpacked (&change->base, NULL);
        return svc_db_fail (reply, request->db);
    }
    const char *issuer = SVC_MASKED (change, "issuer_name")? change->issuer_name: now->issuer_name;
    const char *number = SVC_MASKED (change, "registration_number")? change->registration_number
                                                                   : now->registration_number;
    const char *final_action = SVC_MASKED (change, "final_action")? change->final_action: now->final_action;
    int konbini = SVC_MASKED (change, "konbini_expiry_days")? change->konbini_expiry_days: now->konbini_expiry_days;
    int due = SVC_MASKED (change, "invoice_due_days")? change->invoice_due_days: now->invoice_due_days;
    int suspend = SVC_MASKED (change, "terms_suspend_after_days")? change->terms_suspend_after_days
                                                                  : now->terms_suspend_after_days;
    size_t n_retries = SVC_MASKED (change, "retry_days")? change->n_retry_days: now->n_retry_days;
    int32_t *retries = SVC_MASKED (change, "retry_days")? change->retry_days: now->retry_days;

    if (*issuer)                        /* "" (null in JSON): no issuer name */
        billing_check_text (reply, "issuer_name", issuer, 200);
    if (*number && !s_registration_number (number))
        svc_field_error (reply, "registration_number", "must be T followed by 13 digits");
    billing_check_enum (reply, "final_action", final_action, s_final_actions, true);
    if (konbini < 1 || konbini > 30)
        svc_field_error (reply, "konbini_expiry_days", "must be from 1 to 30");
    if (due < 0 || due > 365)
        svc_field_error (reply, "invoice_due_days", "must be from 0 to 365");
    if (suspend < 0 || suspend > 365)
        svc_field_error (reply, "terms_suspend_after_days", "must be from 0 to 365");
    char array [RETRIES_MAX * 8 + 4] = "{";
    if (n_retries > RETRIES_MAX)
        svc_field_error (reply, "retry_days", "must have at most %d entries", RETRIES_MAX);
    for (size_t i = 0; i < n_retries && i < RETRIES_MAX; i++) {
        if (retries [i] < 1 || retries [i] > 60 || (i > 0 && retries [i] <= retries [i - 1]))
            svc_field_error (reply, "retry_days", "must be increasing days from 1 to 60");
        snprintf (array + strlen (array), sizeof array - strlen (array), "%s%d", i? ",": "", retries [i]);
    }
    strcat (array, "}");
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        char konbini_text [24], due_text [24], version [24], suspend_text [24];
        const char *params [] = { issuer, number, array, final_action, NUM (konbini_text, konbini),
                                  NUM (due_text, due), NUM (version, change->if_version),
                                  NUM (suspend_text, suspend) };
        PGresult *result = billing_run (request, reply, "settings_update", 8, params);
        if (result && PQntuples (result) == 0)
            svc_fail (reply, KAIIN__STATUS__ABORTED, "the settings were changed meanwhile");
        else
        if (result) {
            Kaiin__Billing__Settings *updated = (Kaiin__Billing__Settings *)
                pg_row_message (result, 0, &kaiin__billing__settings__descriptor);
            rc = svc_reply_with (reply, &updated->base);
            protobuf_c_message_free_unpacked (&updated->base, NULL);
        }
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&now->base, NULL);
    protobuf_c_message_free_unpacked (&change->base, NULL);
    return rc;
}
