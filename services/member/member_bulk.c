/* member_bulk.c - many new members at once, the path of a large import: which emails are
   members already, then COPY of the members with their tags, consents, events and audit
   entries in the caller's transaction */
#include "member_bulk.h"
#include "clock.h"
#include "member_crypt.h"
#include "member_record.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

void
member_bulk_prepare (pg_t *db)
{
    pg_prepare (db, "member_bulk_tags",
            "insert into member_tags (member_seq, tag, added_at)"
            " select m.seq, split_part (l, chr (9), 2), " AT ("split_part (l, chr (9), 3)")
            " from unnest (string_to_array ($1, chr (10))) l"
            " join members m on m.id = split_part (l, chr (9), 1)::uuid on conflict do nothing");
    pg_prepare (db, "member_bulk_consents",
            "insert into member_consents (member_seq, email_opt_in, at, method, source, recorded_at, recorded_by)"
            " select m.seq, split_part (l, chr (9), 2)::boolean, "
            AT ("split_part (l, chr (9), 3)") ", split_part (l, chr (9), 4), split_part (l, chr (9), 5),"
            " " AT ("split_part (l, chr (9), 6)") ", split_part (l, chr (9), 7)"
            " from unnest (string_to_array ($1, chr (10))) l"
            " join members m on m.id = split_part (l, chr (9), 1)::uuid");
    pg_prepare (db, "member_ids_by_email",
            "select lower (email), id from members"
            " where lower (email) = any (string_to_array ($1, chr (10)))");
}

PGresult *
member_bulk_ids_by_email (pg_t *db, const char *emails)
{
    const char *params [] = { emails };
    return pg_run (db, "member_ids_by_email", 1, params);
}

/* Appends a line of tab-separated fields to a blob that a bulk statement splits again. */
static void
s_blob_line (pg_buffer_t *blob, const char *const *fields, int count)
{
    if (blob->used)
        pg_buffer_append (blob, "\n", 1);
    for (int i = 0; i < count; i++) {
        if (i)
            pg_buffer_append (blob, "\t", 1);
        pg_buffer_append (blob, fields [i], strlen (fields [i]));
    }
}

/* Appends an outbox row: its type, aggregate, time and the packed payload as bytea. */
static void
s_event_row (pg_buffer_t *rows, const char *type, const char *aggregate_id, const char *at,
             const ProtobufCMessage *payload)
{
    size_t size = protobuf_c_message_get_packed_size (payload);
    uint8_t *packed = malloc (size + 1);
    char *hex = malloc (size * 2 + 3);
    assert (packed && hex);
    protobuf_c_message_pack (payload, packed);
    memcpy (hex, "\\x", 2);
    for (size_t i = 0; i < size; i++)
        snprintf (hex + 2 + i * 2, 3, "%02x", packed [i]);
    hex [2 + size * 2] = 0;
    pg_copy_field (rows, type, false);
    pg_copy_field (rows, aggregate_id, false);
    pg_copy_field (rows, at, false);
    pg_copy_field (rows, hex, true);
    free (packed);
    free (hex);
}

member_rc_t
member_bulk_insert (pg_t *db, Kaiin__Member__Member *const *members, size_t count,
                    const audit_actor_t *const *actors)
{
    pg_buffer_t rows = { 0 }, events = { 0 }, audit = { 0 }, tags = { 0 }, consents = { 0 }, keys = { 0 };
    for (size_t i = 0; i < count; i++) {
        const Kaiin__Member__Member *member = members [i];
        const audit_actor_t *actor = actors [i];
        char now [40], now_ms [24];
        clock_format_ms (actor->now_ms, now, sizeof now);
        snprintf (now_ms, sizeof now_ms, "%lld", (long long) actor->now_ms);
        const Kaiin__Member__Consent *consent = member->marketing_consent;
        char consent_at [40] = "", at_ms [24] = "";
        if (consent) {
            clock_format_ms (consent->at_ms, consent_at, sizeof consent_at);
            snprintf (at_ms, sizeof at_ms, "%lld", (long long) consent->at_ms);
        }
        /* its data key, and its personal fields sealed with it */
        member_key_t key;
        char *wrapped = member_crypt_key_new (member->id, &key), phone_hash [65];
        assert (wrapped);           /* getrandom fails only before the pool is ready */
        pg_copy_field (&keys, member->id, false);
        pg_copy_field (&keys, wrapped, true);
        free (wrapped);
        member_crypt_phone_hash (member->phone, phone_hash);
        char *phone = member_crypt_seal (&key, member->id, member->phone),
             *birthday = member_crypt_seal (&key, member->id, member->birthday),
             *address = member_crypt_seal (&key, member->id, member->address),
             *note = member_crypt_seal (&key, member->id, member->note);
        const char *fields [] = {
            member->id, member->email, member->name, member->name_kana, phone,
            *birthday? birthday: NULL, member->postal_code, member->prefecture,
            address, member->rank, *member->attributes_json? member->attributes_json: "{}",
            note, consent? (consent->email_opt_in? "t": "f"): NULL,
            consent? consent_at: NULL, consent? consent->method: NULL, consent? consent->source: NULL,
            now, now, *phone_hash? phone_hash: NULL
        };
        size_t field_count = sizeof fields / sizeof fields [0];
        for (size_t f = 0; f < field_count; f++)
            pg_copy_field (&rows, fields [f], f + 1 == field_count);
        free (phone);
        free (birthday);
        free (address);
        free (note);
        Kaiin__Member__Member event = member_crypt_public (member);
        s_event_row (&events, "member.registered", member->id, now, &event.base);
        for (size_t t = 0; t < member->n_tags; t++) {
            const char *line [] = { member->id, member->tags [t], now_ms };
            s_blob_line (&tags, line, 3);
            Kaiin__Member__TagEvent tagged = KAIIN__MEMBER__TAG_EVENT__INIT;
            tagged.member_id = member->id;
            tagged.tag = member->tags [t];
            tagged.member = &event;
            s_event_row (&events, "member.tagged", member->id, now, &tagged.base);
        }
        if (consent) {
            const char *line [] = { member->id, consent->email_opt_in? "t": "f", at_ms,
                                    consent->method, consent->source, now_ms, actor->actor_id };
            s_blob_line (&consents, line, 7);
        }
        char *changes = member_record_changes (NULL, member);
        member_crypt_seal_changes (&changes, member->id, &key);
        const char *entry [] = { now, actor->actor_id, actor->actor_role, "member.registered",
                                 "member", member->id, changes, actor->request_id, actor->ip };
        for (size_t f = 0; f < 9; f++)
            pg_copy_field (&audit, entry [f], f == 8);
        free (changes);
    }
    member_rc_t rc = MEMBER_ERROR;
    PGresult *result = NULL;
    if (pg_begin (db) == -1)
        goto done;
    if (pg_copy (db, "copy member_keys (member_id, wrapped_key) from stdin", keys.text, keys.used) == -1
    ||  pg_copy (db, "copy members (id, email, name, name_kana, phone, birthday, postal_code,"
                     " prefecture, address, rank, attributes, note, consent_opt_in, consent_at,"
                     " consent_method, consent_source, created_at, updated_at, phone_hash) from stdin",
                 rows.text, rows.used) == -1) {
        rc = member_record_refused (db);
        goto fail;
    }
    const char *tag_params [] = { tags.text };
    if (tags.used && !(result = pg_run (db, "member_bulk_tags", 1, tag_params)))
        goto fail;
    PQclear (result);
    result = NULL;
    const char *consent_params [] = { consents.text };
    if (consents.used && !(result = pg_run (db, "member_bulk_consents", 1, consent_params)))
        goto fail;
    PQclear (result);
    result = NULL;
    if (pg_copy (db, "copy outbox (type, aggregate_id, occurred_at, payload) from stdin",
                 events.text, events.used) == -1
    ||  pg_copy (db, "copy audit_log (at, actor_id, actor_role, action, target_type, target_id,"
                     " changes, request_id, ip) from stdin", audit.text, audit.used) == -1
    ||  pg_commit (db) == -1)
        goto fail;
    rc = MEMBER_OK;
    goto done;
fail:
    pg_rollback (db);
done:
    free (rows.text);
    free (events.text);
    free (audit.text);
    free (tags.text);
    free (consents.text);
    free (keys.text);
    return rc;
}
