/* settings.c - the sender: From, Reply-To, and the legal footer's business, address, contact;
   how fast and in which character set mail goes out */
#include "settings.h"
#include "rate.h"
#include <string.h>


/* The settings' text fields, each with its length limit. */
static const struct {
    const char *name;
    long max_chars;
    bool address;                       /* an email address */
} s_fields [] = {
    { "from_name", 100, false }, { "from_address", 254, true }, { "reply_to", 254, true },
    { "business_name", 200, false }, { "postal_address", 300, false }, { "contact", 200, false },
    { NULL }
};

void
settings_prepare (pg_t *db)
{
    pg_prepare (db, "settings_get", "select " SETTINGS_COLUMNS " from settings s");
    pg_prepare (db, "settings_update",
            "update settings s set from_name = $1, from_address = $2, reply_to = $3,"
            " business_name = $4, postal_address = $5, contact = $6, marketing_cap_per_week = $8,"
            " pause_failure_percent = $9, pause_after = $10, rate_per_minute = $11, charset = $12,"
            " version = version + 1"
            " where ($7::bigint = 0 or version = $7) returning " SETTINGS_COLUMNS);
}

Kaiin__Messaging__Settings *
settings_load (pg_t *db)
{
    PGresult *result = pg_run (db, "settings_get", 0, NULL);
    if (!result)
        return NULL;
    Kaiin__Messaging__Settings *settings = (Kaiin__Messaging__Settings *)
        pg_row_message (result, 0, &kaiin__messaging__settings__descriptor);
    PQclear (result);
    return settings;
}

const char *
settings_legal_gap (const Kaiin__Messaging__Settings *settings)
{
    return !*settings->postal_address || !*settings->contact
        || (!*settings->business_name && !*settings->from_name)
        ? "the legal footer is incomplete: set business_name, postal_address and contact": NULL;
}

/* Answers settings with their domain limits. Returns 0 or -1. */
static int
s_reply (svc_request_t *request, svc_reply_t *reply, Kaiin__Messaging__Settings *settings)
{
    if (rate_load_domains (request->db, settings) == -1)
        return svc_db_fail (reply, request->db);
    return svc_reply_with (reply, &settings->base);
}

int
settings_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__Settings *settings = settings_load (request->db);
    int rc = settings? s_reply (request, reply, settings): svc_db_fail (reply, request->db);
    if (settings)
        protobuf_c_message_free_unpacked (&settings->base, NULL);
    return rc;
}

/* The address of a field of a settings message. */
static char **
s_text (Kaiin__Messaging__Settings *settings, const char *name)
{
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name (settings->base.descriptor, name);
    return (char **) ((char *) settings + field->offset);
}

int
settings_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__Settings *change = (Kaiin__Messaging__Settings *)
        svc_unpack (request, &kaiin__messaging__settings__descriptor, reply);
    if (!change)
        return -1;
    Kaiin__Messaging__Settings *now = settings_load (request->db);
    if (!now) {
        protobuf_c_message_free_unpacked (&change->base, NULL);
        return svc_db_fail (reply, request->db);
    }
    const char *params [12];
    for (int i = 0; s_fields [i].name; i++) {
        const char *name = s_fields [i].name;
        const char *value = SVC_MASKED (change, name)? *s_text (change, name): *s_text (now, name);
        if (*value && s_fields [i].address && !messaging_email (value))
            svc_field_error (reply, name, "must be an email address");
        else
        if (*value)
            messaging_check_text (reply, name, value, s_fields [i].max_chars, false);
        params [i] = value;
    }
    bool rates = SVC_MASKED (change, "domain_rates");
    if (rates)
        rate_check_domains (reply, change);
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK && pg_begin (request->db) == -1)
        svc_db_fail (reply, request->db);
    else
    if (reply->status == KAIIN__STATUS__OK) {
        char version [24], cap [24], percent [24], after [24], rate [24];
        params [6] = NUM (version, change->if_version);
        params [7] = NUM (cap, SVC_MASKED (change, "marketing_cap_per_week")
                               ? change->marketing_cap_per_week: now->marketing_cap_per_week);
        params [8] = NUM (percent, SVC_MASKED (change, "pause_failure_percent")
                                   ? change->pause_failure_percent: now->pause_failure_percent);
        params [9] = NUM (after, SVC_MASKED (change, "pause_after")? change->pause_after: now->pause_after);
        params [10] = NUM (rate, SVC_MASKED (change, "rate_per_minute")? change->rate_per_minute: now->rate_per_minute);
        params [11] = SVC_MASKED (change, "charset")? change->charset: now->charset;
        PGresult *result = messaging_run (request, reply, "settings_update", 12, params);
        if (result && PQntuples (result) == 0)
            svc_fail (reply, KAIIN__STATUS__ABORTED, "the settings were changed meanwhile");
        else
        if (result && (!rates || rate_replace_domains (request, reply, change) == 0)
        &&  pg_commit (request->db) == 0) {
            Kaiin__Messaging__Settings *updated = (Kaiin__Messaging__Settings *)
                pg_row_message (result, 0, &kaiin__messaging__settings__descriptor);
            rc = s_reply (request, reply, updated);
            protobuf_c_message_free_unpacked (&updated->base, NULL);
        }
        else
        if (result)
            svc_db_fail (reply, request->db);
        PQclear (result);
        if (rc == -1)
            pg_rollback (request->db);
    }
    protobuf_c_message_free_unpacked (&now->base, NULL);
    protobuf_c_message_free_unpacked (&change->base, NULL);
    return rc;
}
