/* audience.c - what messaging knows of members: a projection kept from member's events (name,
   email, rank, status, tags, attributes, signup, last login, marketing consent), unsubscribes
   from mails, suppressed addresses, and erasure */
#include "audience.h"
#include "member_auth.pb-c.h"
#include "outbox.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER_COLUMNS AUDIENCE_COLUMNS ", p.email_opt_in, p.consented_at_ms," \
    " p.consent_method as method, p.consent_source as source, p.unsubscribed_at_ms"

void
audience_prepare (pg_t *db)
{
    pg_prepare (db, "audience_upsert",
            "insert into members (id, email, name, name_kana, status, rank, email_opt_in,"
            " consented_at_ms, consent_method, consent_source, updated_at_ms, tags, attributes,"
            " created_at_ms, last_login_at_ms)"
            " values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
            " array (select jsonb_array_elements_text ($12::jsonb)), $13::jsonb, $14, $15)"
            " on conflict (id) do update set email = $2, name = $3, name_kana = $4, status = $5,"
            " rank = $6, email_opt_in = $7, consented_at_ms = $8, consent_method = $9,"
            " consent_source = $10, updated_at_ms = $11, tags = excluded.tags,"
            " attributes = excluded.attributes, created_at_ms = $14,"
            " last_login_at_ms = greatest (members.last_login_at_ms, $15), unsubscribed_seq = "
            SUPPRESSION_UNSUBSCRIBED_SEQ ("members.marketing and not $7::boolean"));
    pg_prepare (db, "audience_login",
            "update members set last_login_at_ms = greatest (last_login_at_ms, $2) where id = $1");
    pg_prepare (db, "audience_erase", "delete from members where id = $1");
    pg_prepare (db, "audience_erase_mails",
            "update mails set \"to\" = '', subject = '', event_json = null,"
            " status = case when status in ('queued', 'held') then 'canceled' else status end"
            " where member_id = $1");
    pg_prepare (db, "audience_get", "select " MEMBER_COLUMNS " from members p" AUDIENCE_FACTS " where p.id = $1");
    pg_prepare (db, "audience_unsubscribe",
            "with mail as (update mails set unsubscribed_at_ms = $2 where id = $1"
            " and unsubscribed_at_ms = 0)"
            " update members set unsubscribed_at_ms = $2, unsubscribed_mail_id = $1,"
            " unsubscribed_seq = " SUPPRESSION_UNSUBSCRIBED_SEQ ("true")
            " where id = (select member_id from mails where id = $1) returning id");
}

/* Writes the member's row as member is now. */
static int
s_upsert (pg_t *db, const Kaiin__Member__Member *member, int64_t now_ms)
{
    const Kaiin__Member__Consent *consent = member->marketing_consent;
    json_t *tags = json_array ();
    for (size_t i = 0; i < member->n_tags; i++)
        json_array_append_new (tags, json_string (member->tags [i]));
    char *tags_json = json_dumps (tags, JSON_COMPACT);
    json_decref (tags);
    char at [24], now [24], created [24], login [24];
    const char *params [] = {
        member->id, member->email, member->name, member->name_kana, member->status, member->rank,
        consent && consent->email_opt_in? "t": "f", NUM (at, consent? consent->at_ms: 0),
        consent? consent->method: "", consent? consent->source: "", NUM (now, now_ms), tags_json,
        *member->attributes_json? member->attributes_json: "{}", NUM (created, member->created_at_ms),
        NUM (login, member->last_login_at_ms)
    };
    int rc = pg_defer (db, "audience_upsert", 15, params);
    free (tags_json);
    return rc;
}

/* Sends a statement of the consumer's transaction that returns no rows, without waiting for
   it (its commit reads the answer). */
static int
s_change (pg_t *db, const char *name, int count, const char *const *params)
{
    return pg_defer (db, name, count, params);
}

int
audience_apply (pg_t *db, const char *type, const ProtobufCMessage *payload, int64_t now_ms)
{
    const ProtobufCMessageDescriptor *descriptor = payload->descriptor;
    if (descriptor == &kaiin__member__tag_event__descriptor) {
        const Kaiin__Member__TagEvent *tagged = (const Kaiin__Member__TagEvent *) payload;
        return tagged->member? s_upsert (db, tagged->member, now_ms): 0;
    }
    if (descriptor == &kaiin__member_auth__logged_in__descriptor) {
        const Kaiin__MemberAuth__LoggedIn *login = (const Kaiin__MemberAuth__LoggedIn *) payload;
        char at [24];
        const char *params [] = { login->member_id, NUM (at, login->at_ms) };
        return messaging_uuid (login->member_id)? s_change (db, "audience_login", 2, params): 0;
    }
    if (descriptor != &kaiin__member__member__descriptor)
        return 0;
    const Kaiin__Member__Member *member = (const Kaiin__Member__Member *) payload;
    const char *id [] = { member->id };
    if (strcmp (type, "member.erased") == 0)
        return s_change (db, "audience_erase", 1, id) == 0
            && s_change (db, "audience_erase_mails", 1, id) == 0? 0: -1;
    if (strcmp (type, "member.registered") != 0 && strcmp (type, "member.updated") != 0
    &&  strcmp (type, "member.withdrawn") != 0)
        return 0;
    return s_upsert (db, member, now_ms);
}

int
audience_row (PGresult *result, int row, audience_member_t *member)
{
    memset (member, 0, sizeof *member);
    int id = PQfnumber (result, "member_id");
    if (row >= PQntuples (result) || PQgetisnull (result, row, id))
        return 1;
    json_t *fields = json_pack ("{s:s}", "id", PQgetvalue (result, row, id));
    const char *columns [] = { "name", "name_kana", "email", "rank", "status", "purchase_count",
                               "purchase_total", NULL };
    for (int i = 0; columns [i]; i++)
        json_object_set_new (fields, columns [i],
                             json_string (PQgetvalue (result, row, PQfnumber (result, columns [i]))));
    member->values = json_pack ("{s:o}", "member", fields);
    snprintf (member->email, sizeof member->email, "%s", PQgetvalue (result, row, PQfnumber (result, "email")));
    snprintf (member->status, sizeof member->status, "%s", PQgetvalue (result, row, PQfnumber (result, "status")));
    member->marketing = strcmp (PQgetvalue (result, row, PQfnumber (result, "marketing")), "t") == 0;
    member->suppressed = strcmp (PQgetvalue (result, row, PQfnumber (result, "suppressed")), "t") == 0;
    return 0;
}

int
audience_load (pg_t *db, const char *id, audience_member_t *member)
{
    memset (member, 0, sizeof *member);
    if (!messaging_uuid (id))
        return 1;
    const char *params [] = { id };
    PGresult *result = pg_run (db, "audience_get", 1, params);
    if (!result)
        return -1;
    int found = audience_row (result, 0, member);
    PQclear (result);
    return found;
}

void
audience_sample (audience_member_t *member, const char *email)
{
    memset (member, 0, sizeof *member);
    member->values = json_pack ("{s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "member",
        "id", "00000000-0000-0000-0000-000000000000", "name", "テスト 太郎",
        "name_kana", "テスト タロウ", "email", email, "rank", "basic", "status", "free");
    snprintf (member->email, sizeof member->email, "%s", email);
    snprintf (member->status, sizeof member->status, "free");
    member->marketing = true;
}

int
audience_unsubscribe (pg_t *db, const char *mail_id, int64_t now_ms)
{
    char now [24];
    const char *params [] = { mail_id, NUM (now, now_ms) };
    PGresult *result = pg_run (db, "audience_unsubscribe", 2, params);
    if (!result)
        return -1;
    if (PQntuples (result) == 0) {
        PQclear (result);
        return 1;
    }
    Kaiin__Messaging__Unsubscribed event = KAIIN__MESSAGING__UNSUBSCRIBED__INIT;
    event.member_id = PQgetvalue (result, 0, 0);
    event.mail_id = (char *) mail_id;
    event.method = "one_click";
    event.at_ms = now_ms;
    int rc = outbox_append (db, "member.unsubscribed", event.member_id, &event.base, now_ms);
    PQclear (result);
    return rc;
}

int
audience_api_consent (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__IdRequest *get = (Kaiin__Messaging__IdRequest *)
        svc_unpack (request, &kaiin__messaging__id_request__descriptor, reply);
    if (!get)
        return -1;
    int rc;
    if (!messaging_uuid (get->id))
        rc = svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "member not found");
    else {
        const char *params [] = { get->id };
        PGresult *result = messaging_run (request, reply, "audience_get", 1, params);
        rc = -1;
        if (result && PQntuples (result) == 0)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "member not found");
        else
        if (result) {
            Kaiin__Messaging__Consent *consent = (Kaiin__Messaging__Consent *)
                pg_row_message (result, 0, &kaiin__messaging__consent__descriptor);
            rc = svc_reply_with (reply, &consent->base);
            protobuf_c_message_free_unpacked (&consent->base, NULL);
        }
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}
