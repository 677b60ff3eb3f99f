/* member_store.c - all of the member service's SQL for the member record: the members table,
   tags, consents, search, and their events */
#include "member_store.h"
#include "clock.h"
#include "audit.h"
#include "outbox.h"
#include <assert.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MS(column) "coalesce ((extract (epoch from " column ") * 1000)::bigint, 0)"

/* The columns s_member_from_row reads, in its order. */
#define MEMBER_COLUMNS \
    "id, email, name, name_kana, phone, status, version," \
    " " MS ("created_at") ", " MS ("updated_at") ", " MS ("withdrawn_at") "," \
    " coalesce (withdrawn_reason, ''), seq," \
    " coalesce (birthday::text, ''), postal_code, prefecture, address, rank," \
    " coalesce ((select json_agg (t.tag order by t.tag) from member_tags t" \
    "            where t.member_seq = members.seq)::text, '[]')," \
    " attributes::text, note," \
    " coalesce (consent_opt_in::text, ''), " MS ("consent_at") "," \
    " coalesce (consent_method, ''), coalesce (consent_source, '')," \
    " " MS ("last_login_at") "," \
    " (extract (epoch from created_at) * 1000000)::bigint"

#define AT(param) "to_timestamp (" param "::bigint / 1000.0)"

/* The filters every listing shares ($1 .. $11), then the position ($12 has one, $13 key,
   $14 seq). Run with custom plans, the filters not asked for fold away and the rest can use
   their indexes. */
#define LIST_WHERE \
    " where ($1 = '' or status = $1)" \
    "   and ($2 = '' or lower (email) = lower ($2))" \
    "   and ($3 = '' or search_text like '%' || replace (replace (replace (search_norm ($3)," \
    "                   '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%')" \
    "   and ($4 = '' or rank = $4)" \
    "   and (cardinality ($5::text []) = 0" \
    "        or ($6 and (select count (*) from member_tags t" \
    "                    where t.member_seq = members.seq and t.tag = any ($5::text [])) = cardinality ($5::text []))" \
    "        or (not $6 and exists (select 1 from member_tags t" \
    "                    where t.member_seq = members.seq and t.tag = any ($5::text []))))" \
    "   and ($7 = '' or attributes @> $7::jsonb)" \
    "   and ($8::bigint = 0 or created_at >= " AT ("$8") ")" \
    "   and ($9::bigint = 0 or created_at <= " AT ("$9") ")" \
    "   and ($10::bigint = 0 or last_login_at >= " AT ("$10") ")" \
    "   and ($11::bigint = 0 or last_login_at <= " AT ("$11") ")"

#define CREATED_KEY "'epoch'::timestamptz + ($13::text)::bigint * interval '1 microsecond'"

/* Each order: its statement's name, the position condition, the order, and the same order by
   the output columns of MEMBER_COLUMNS (4 name_kana, 12 seq, 26 created_at in microseconds). */
static const struct {
    const char *name;
    const char *after;
    const char *order;
    const char *outer_order;
} s_orders [] = {
    { "member_list_seq", "$13::text is not null and (not $12 or seq > $14)", "seq", "12" },
    { "member_list_created", "(not $12 or (created_at, seq) > (" CREATED_KEY ", $14))",
      "created_at, seq", "26, 12" },
    { "member_list_created_desc", "(not $12 or (created_at, seq) < (" CREATED_KEY ", $14))",
      "created_at desc, seq desc", "26 desc, 12 desc" },
    { "member_list_kana", "(not $12 or (name_kana, seq) > ($13::text, $14))", "name_kana, seq", "4, 12" },
    { "member_list_kana_desc", "(not $12 or (name_kana, seq) < ($13::text, $14))",
      "name_kana desc, seq desc", "4 desc, 12 desc" }
};

/* Prepares each order's listing: two branches of which a custom plan keeps one ($16 says
   which). Without a selective text query, walking the order's index and stopping after a page
   is fastest. With one, the planner would walk the index too (it cannot tell how rare the
   pattern is) and filter most of the table; there the rows come from the trigram index first,
   fenced in a subquery (offset 0), and are sorted after. */
static int
s_prepare_listings (pg_t *db)
{
    for (size_t i = 0; i < sizeof s_orders / sizeof s_orders [0]; i++) {
        char sql [6000];
        snprintf (sql, sizeof sql,
                  "select * from ("
                  " (select %s from members %s and %s and not $16 order by %s limit $15)"
                  " union all"
                  " (select %s from (select * from members %s and %s and $16 offset 0) members"
                  "  order by %s limit $15)) page order by %s",
                  MEMBER_COLUMNS, LIST_WHERE, s_orders [i].after, s_orders [i].order,
                  MEMBER_COLUMNS, LIST_WHERE, s_orders [i].after, s_orders [i].order,
                  s_orders [i].outer_order);
        if (pg_prepare (db, s_orders [i].name, sql) == -1)
            return -1;
    }
    return 0;
}

int
member_store_prepare (pg_t *db)
{
    if (pg_prepare (db, "member_bulk_tags",
            "insert into member_tags (member_seq, tag, added_at)"
            " select m.seq, split_part (l, chr (9), 2), " AT ("$2")
            " from unnest (string_to_array ($1, chr (10))) l"
            " join members m on m.id = split_part (l, chr (9), 1)::uuid on conflict do nothing") == -1
    ||  pg_prepare (db, "member_bulk_consents",
            "insert into member_consents (member_seq, email_opt_in, at, method, source, recorded_at, recorded_by)"
            " select m.seq, split_part (l, chr (9), 2)::boolean, "
            AT ("split_part (l, chr (9), 3)") ", split_part (l, chr (9), 4), split_part (l, chr (9), 5),"
            " " AT ("$2") ", $3 from unnest (string_to_array ($1, chr (10))) l"
            " join members m on m.id = split_part (l, chr (9), 1)::uuid") == -1)
        return -1;
    if (pg_prepare (db, "member_ids_by_email",
            "select lower (email), id from members"
            " where lower (email) = any (string_to_array ($1, chr (10)))") == -1)
        return -1;
    if (pg_prepare (db, "member_insert",
            "insert into members (email, name, name_kana, phone, created_at, updated_at, birthday,"
            "  postal_code, prefecture, address, rank, attributes, note, consent_opt_in, consent_at,"
            "  consent_method, consent_source)"
            " values ($1, $2, $3, $4, " AT ("$5") ", " AT ("$5") ", nullif ($6, '')::date, $7, $8, $9,"
            "  coalesce (nullif ($10, ''), 'basic'), jsonb_strip_nulls (coalesce (nullif ($11, ''), '{}')::jsonb), $12,"
            "  nullif ($13, '')::boolean, " AT ("nullif ($14, '')") ", nullif ($15, ''), nullif ($16, ''))"
            " returning " MEMBER_COLUMNS) == -1
    ||  pg_prepare (db, "member_get", "select " MEMBER_COLUMNS " from members where id = $1") == -1
    ||  pg_prepare (db, "member_get_many", "select " MEMBER_COLUMNS " from members where id = any ($1::uuid [])") == -1
    ||  pg_prepare (db, "member_lock", "select " MEMBER_COLUMNS " from members where id = $1 for update") == -1
    ||  pg_prepare (db, "member_update",
            "update members set"
            "  email = case when $2 then $3 else email end,"
            "  name = case when $4 then $5 else name end,"
            "  name_kana = case when $6 then $7 else name_kana end,"
            "  phone = case when $8 then $9 else phone end,"
            "  birthday = case when $10 then nullif ($11, '')::date else birthday end,"
            "  postal_code = case when $12 then $13 else postal_code end,"
            "  prefecture = case when $14 then $15 else prefecture end,"
            "  address = case when $16 then $17 else address end,"
            "  rank = case when $18 then $19 else rank end,"
            "  status = case when $20 then $21 else status end,"
            "  attributes = case when $22 then jsonb_strip_nulls (attributes || $23::jsonb) else attributes end,"
            "  note = case when $24 then $25 else note end,"
            "  consent_opt_in = case when $26 then $27::boolean else consent_opt_in end,"
            "  consent_at = case when $26 then " AT ("$28") " else consent_at end,"
            "  consent_method = case when $26 then $29 else consent_method end,"
            "  consent_source = case when $26 then $30 else consent_source end,"
            "  version = version + 1, updated_at = " AT ("$31")
            " where id = $1 returning " MEMBER_COLUMNS) == -1
    ||  pg_prepare (db, "member_withdraw",
            "update members set status = 'withdrawn', withdrawn_reason = nullif ($2, ''),"
            "  withdrawn_at = " AT ("$3") ", updated_at = " AT ("$3") ", version = version + 1"
            " where id = $1 returning " MEMBER_COLUMNS) == -1
    ||  pg_prepare (db, "member_billing_lock",
            "select status, rank, coalesce (billing_rank, ''), erased_at is not null from members"
            " where id = $1 for update") == -1
    ||  pg_prepare (db, "member_billing_rank_set",
            "update members set billing_rank = nullif ($2, '') where id = $1") == -1
    ||  pg_prepare (db, "member_rank_exists", "select 1 from member_ranks where code = $1") == -1
    ||  pg_prepare (db, "member_touch",
            "update members set version = version + 1, updated_at = " AT ("$2")
            " where id = $1 returning " MEMBER_COLUMNS) == -1
    ||  pg_prepare (db, "member_consent_insert",
            "insert into member_consents (member_seq, email_opt_in, at, method, source, recorded_at,"
            "  recorded_by) values ($1, $2, " AT ("$3") ", $4, $5, " AT ("$6") ", $7)") == -1
    ||  pg_prepare (db, "member_tag_add",
            "insert into member_tags (member_seq, tag, added_at) values ($1, $2, " AT ("$3") ")"
            " on conflict do nothing") == -1
    ||  pg_prepare (db, "member_tag_remove",
            "delete from member_tags where member_seq = $1 and tag = $2") == -1
    ||  pg_prepare (db, "member_tag_count",
            "select count (*) from member_tags where member_seq = $1") == -1
    ||  s_prepare_listings (db) == -1
    ||  audit_prepare (db) == -1)
        return -1;
    return 0;
}

/* Fills member from row of result; returns the row's seq. */
static int64_t
s_member_from_row (PGresult *result, int row, Kaiin__Member__Member *member)
{
    kaiin__member__member__init (member);
    member->id = strdup (PQgetvalue (result, row, 0));
    member->email = strdup (PQgetvalue (result, row, 1));
    member->name = strdup (PQgetvalue (result, row, 2));
    member->name_kana = strdup (PQgetvalue (result, row, 3));
    member->phone = strdup (PQgetvalue (result, row, 4));
    member->status = strdup (PQgetvalue (result, row, 5));
    member->version = strtoll (PQgetvalue (result, row, 6), NULL, 10);
    member->created_at_ms = strtoll (PQgetvalue (result, row, 7), NULL, 10);
    member->updated_at_ms = strtoll (PQgetvalue (result, row, 8), NULL, 10);
    member->withdrawn_at_ms = strtoll (PQgetvalue (result, row, 9), NULL, 10);
    member->withdrawn_reason = strdup (PQgetvalue (result, row, 10));
    member->birthday = strdup (PQgetvalue (result, row, 12));
    member->postal_code = strdup (PQgetvalue (result, row, 13));
    member->prefecture = strdup (PQgetvalue (result, row, 14));
    member->address = strdup (PQgetvalue (result, row, 15));
    member->rank = strdup (PQgetvalue (result, row, 16));
    json_t *tags = json_loads (PQgetvalue (result, row, 17), 0, NULL);
    size_t count = json_array_size (tags);
    member->tags = calloc (count? count: 1, sizeof (char *));
    assert (member->tags);
    for (size_t i = 0; i < count; i++)
        member->tags [member->n_tags++] = strdup (json_string_value (json_array_get (tags, i)));
    json_decref (tags);
    member->attributes_json = strdup (PQgetvalue (result, row, 18));
    member->note = strdup (PQgetvalue (result, row, 19));
    const char *opt_in = PQgetvalue (result, row, 20);
    if (*opt_in) {
        Kaiin__Member__Consent *consent = malloc (sizeof *consent);
        assert (consent);
        kaiin__member__consent__init (consent);
        consent->email_opt_in = strcmp (opt_in, "true") == 0;
        consent->at_ms = strtoll (PQgetvalue (result, row, 21), NULL, 10);
        consent->method = strdup (PQgetvalue (result, row, 22));
        consent->source = strdup (PQgetvalue (result, row, 23));
        member->marketing_consent = consent;
    }
    member->last_login_at_ms = strtoll (PQgetvalue (result, row, 24), NULL, 10);
    return strtoll (PQgetvalue (result, row, 11), NULL, 10);
}

void
member_store_clear (Kaiin__Member__Member *member)
{
    free (member->id);
    free (member->email);
    free (member->name);
    free (member->name_kana);
    free (member->phone);
    free (member->status);
    free (member->withdrawn_reason);
    free (member->birthday);
    free (member->postal_code);
    free (member->prefecture);
    free (member->address);
    free (member->rank);
    for (size_t i = 0; i < member->n_tags; i++)
        free (member->tags [i]);
    free (member->tags);
    free (member->attributes_json);
    free (member->note);
    if (member->marketing_consent) {
        free (member->marketing_consent->method);
        free (member->marketing_consent->source);
        free (member->marketing_consent);
    }
    kaiin__member__member__init (member);
}

/* --- the audit log's before and after ----------------------------------------------------- */

static void
s_diff_value (json_t *changes, const char *field, json_t *before, json_t *after)
{
    if (before && json_equal (before, after)) {
        json_decref (before);
        json_decref (after);
        return;
    }
    json_object_set_new (changes, field, json_pack ("[o, o]", before? before: json_null (), after));
}

static json_t *
s_text (const char *text)
{
    return text && *text? json_string (text): json_null ();
}

static json_t *
s_tags_json (const Kaiin__Member__Member *member)
{
    json_t *tags = json_array ();
    for (size_t i = 0; i < member->n_tags; i++)
        json_array_append_new (tags, json_string (member->tags [i]));
    return tags;
}

static json_t *
s_consent_json (const Kaiin__Member__Member *member)
{
    const Kaiin__Member__Consent *consent = member->marketing_consent;
    if (!consent)
        return json_null ();
    return json_pack ("{s:b, s:I, s:s, s:s}", "email_opt_in", consent->email_opt_in,
                      "at_ms", (json_int_t) consent->at_ms, "method", consent->method,
                      "source", consent->source);
}

char *
member_store_changes (const Kaiin__Member__Member *before, const Kaiin__Member__Member *after)
{
    json_t *changes = json_object ();
#define TEXT_FIELD(field) \
    s_diff_value (changes, #field, before? s_text (before->field): NULL, s_text (after->field))
    TEXT_FIELD (email);
    TEXT_FIELD (name);
    TEXT_FIELD (name_kana);
    TEXT_FIELD (phone);
    TEXT_FIELD (status);
    TEXT_FIELD (withdrawn_reason);
    TEXT_FIELD (birthday);
    TEXT_FIELD (postal_code);
    TEXT_FIELD (prefecture);
    TEXT_FIELD (address);
    TEXT_FIELD (rank);
    TEXT_FIELD (note);
#undef TEXT_FIELD
    s_diff_value (changes, "tags", before? s_tags_json (before): NULL, s_tags_json (after));
    s_diff_value (changes, "attributes",
                  before? json_loads (before->attributes_json, 0, NULL): NULL,
                  json_loads (after->attributes_json, 0, NULL));
    s_diff_value (changes, "marketing_consent", before? s_consent_json (before): NULL,
                  s_consent_json (after));
    char *text = json_dumps (changes, JSON_COMPACT);
    json_decref (changes);
    return text;
}

/* --- writes --------------------------------------------------------------------------------- */

/* Adds consent to the member's consent history, inside the open transaction. */
static int
s_record_consent (pg_t *db, int64_t member_seq, const Kaiin__Member__Consent *consent,
                  const audit_actor_t *actor)
{
    char seq [24], at [24], now [24];
    snprintf (seq, sizeof seq, "%lld", (long long) member_seq);
    snprintf (at, sizeof at, "%lld", (long long) consent->at_ms);
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = { seq, consent->email_opt_in? "t": "f", at, consent->method,
                              consent->source, now, actor->actor_id };
    PGresult *result = pg_run (db, "member_consent_insert", 7, params);
    if (!result)
        return -1;
    PQclear (result);
    return 0;
}

/* In one transaction: locks the member's row and reads it (unless creating), checks the
   precondition, runs the statement that writes it, records a consent given, and appends its
   event and audit entry. */
static member_store_rc_t
s_write (pg_t *db, const char *id, int64_t if_version, bool refuse_withdrawn, const char *statement,
         int count, const char *const *params, const Kaiin__Member__Consent *consent,
         const char *event_type, const audit_actor_t *actor, Kaiin__Member__Member *member)
{
    if (pg_begin (db) == -1)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_ERROR;
    Kaiin__Member__Member before = KAIIN__MEMBER__MEMBER__INIT;
    bool have_before = false, have_member = false;
    PGresult *result = NULL;
    if (id) {
        const char *key [] = { id };
        if (!(result = pg_run (db, "member_lock", 1, key)))
            goto fail;
        rc = MEMBER_STORE_NOT_FOUND;
        if (PQntuples (result) == 0)
            goto fail;
        s_member_from_row (result, 0, &before);
        have_before = true;
        PQclear (result);
        result = NULL;
        rc = MEMBER_STORE_STALE;
        if (if_version && before.version != if_version)
            goto fail;
        rc = MEMBER_STORE_WITHDRAWN;
        if (refuse_withdrawn && strcmp (before.status, "withdrawn") == 0)
            goto fail;
        rc = MEMBER_STORE_ERROR;
    }
    if (!(result = pg_run (db, statement, count, params))) {
        if (strcmp (pg_sqlstate (db), "23505") == 0)
            rc = MEMBER_STORE_DUPLICATE;
        else
        if (strcmp (pg_sqlstate (db), "23503") == 0)
            rc = MEMBER_STORE_NO_RANK;
        goto fail;
    }
    int64_t seq = s_member_from_row (result, 0, member);
    have_member = true;
    PQclear (result);
    result = NULL;
    if (consent && s_record_consent (db, seq, consent, actor) == -1)
        goto fail;
    char *changes = member_store_changes (have_before? &before: NULL, member);
    const char *action = strchr (event_type, '.') + 1;
    char audit_action [48];
    snprintf (audit_action, sizeof audit_action, "member.%s", action);
    int appended = outbox_append (db, event_type, member->id, &member->base, actor->now_ms) == 0
                && audit_append (db, actor, audit_action, "member", member->id, changes) == 0;
    free (changes);
    if (!appended || pg_commit (db) == -1)
        goto fail;
    if (have_before)
        member_store_clear (&before);
    return MEMBER_STORE_OK;
fail:
    PQclear (result);
    if (have_before)
        member_store_clear (&before);
    if (have_member)
        member_store_clear (member);
    pg_rollback (db);
    return rc;
}

member_store_rc_t
member_store_create (pg_t *db, const Kaiin__Member__CreateRequest *request,
                     const audit_actor_t *actor, Kaiin__Member__Member *member)
{
    char now [24], consent_at [24] = "";
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const Kaiin__Member__Consent *consent = request->marketing_consent;
    if (consent)
        snprintf (consent_at, sizeof consent_at, "%lld", (long long) consent->at_ms);
    const char *params [] = {
        request->email, request->name, request->name_kana, request->phone, now,
        request->birthday, request->postal_code, request->prefecture, request->address,
        request->rank, request->attributes_json, request->note,
        consent? (consent->email_opt_in? "t": "f"): "", consent_at,
        consent? consent->method: "", consent? consent->source: ""
    };
    return s_write (db, NULL, 0, false, "member_insert", 16, params, consent, "member.registered",
                    actor, member);
}

member_store_rc_t
member_store_get (pg_t *db, const char *id, Kaiin__Member__Member *member)
{
    const char *params [] = { id };
    PGresult *result = pg_run (db, "member_get", 1, params);
    if (!result)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_NOT_FOUND;
    if (PQntuples (result) == 1) {
        s_member_from_row (result, 0, member);
        rc = MEMBER_STORE_OK;
    }
    PQclear (result);
    return rc;
}

member_store_rc_t
member_store_get_many (pg_t *db, const char *const *ids, int count, Kaiin__Member__Member *members,
                       bool *found)
{
    pg_buffer_t array = { NULL, 0, 0 };
    pg_buffer_append (&array, "{", 1);
    for (int i = 0; i < count; i++) {
        found [i] = false;
        if (i)
            pg_buffer_append (&array, ",", 1);
        pg_buffer_append (&array, ids [i], strlen (ids [i]));
    }
    pg_buffer_append (&array, "}", 2);          /* with the NUL */
    const char *params [] = { array.text };
    PGresult *result = pg_run (db, "member_get_many", 1, params);
    free (array.text);
    if (!result)
        return MEMBER_STORE_ERROR;
    int id_column = PQfnumber (result, "id");
    for (int row = 0; row < PQntuples (result); row++)
        for (int i = 0; i < count; i++)        /* an id asked twice is answered twice */
            if (!found [i] && strcasecmp (PQgetvalue (result, row, id_column), ids [i]) == 0) {
                s_member_from_row (result, row, &members [i]);
                found [i] = true;
            }
    PQclear (result);
    return MEMBER_STORE_OK;
}

member_store_rc_t
member_store_update (pg_t *db, const Kaiin__Member__UpdateRequest *request,
                     const audit_actor_t *actor, Kaiin__Member__Member *member)
{
    if (request->n_update_mask == 0) {
        /* Nothing to change: answer the current state, still honouring the precondition. */
        member_store_rc_t rc = member_store_get (db, request->id, member);
        if (rc == MEMBER_STORE_OK && request->if_version && member->version != request->if_version) {
            member_store_clear (member);
            rc = MEMBER_STORE_STALE;
        }
        return rc;
    }
    char now [24], consent_at [24] = "0";
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const Kaiin__Member__Consent *consent =
        SVC_MASKED (request, "marketing_consent")? request->marketing_consent: NULL;
    if (consent)
        snprintf (consent_at, sizeof consent_at, "%lld", (long long) consent->at_ms);
#define FLAG(field) (SVC_MASKED (request, field)? "t": "f")
    const char *params [] = {
        request->id,
        FLAG ("email"), request->email,
        FLAG ("name"), request->name,
        FLAG ("name_kana"), request->name_kana,
        FLAG ("phone"), request->phone,
        FLAG ("birthday"), request->birthday,
        FLAG ("postal_code"), request->postal_code,
        FLAG ("prefecture"), request->prefecture,
        FLAG ("address"), request->address,
        FLAG ("rank"), request->rank,
        FLAG ("status"), request->status,
        FLAG ("attributes"), *request->attributes_json? request->attributes_json: "{}",
        FLAG ("note"), request->note,
        consent? "t": "f", consent && consent->email_opt_in? "t": "f", consent_at,
        consent? consent->method: "", consent? consent->source: "",
        now
    };
#undef FLAG
    return s_write (db, request->id, request->if_version, SVC_MASKED (request, "status"),
                    "member_update", 31, params, consent, "member.updated", actor, member);
}

member_store_rc_t
member_store_billing_lock (pg_t *db, const char *id, member_billing_state_t *state)
{
    const char *params [] = { id };
    PGresult *result = pg_run (db, "member_billing_lock", 1, params);
    if (!result)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_NOT_FOUND;
    if (PQntuples (result) == 1) {
        snprintf (state->status, sizeof state->status, "%s", PQgetvalue (result, 0, 0));
        snprintf (state->rank, sizeof state->rank, "%s", PQgetvalue (result, 0, 1));
        snprintf (state->billing_rank, sizeof state->billing_rank, "%s", PQgetvalue (result, 0, 2));
        state->erased = strcmp (PQgetvalue (result, 0, 3), "t") == 0;
        rc = MEMBER_STORE_OK;
    }
    PQclear (result);
    return rc;
}

int
member_store_set_billing_rank (pg_t *db, const char *id, const char *rank)
{
    const char *params [] = { id, rank };
    PGresult *result = pg_run (db, "member_billing_rank_set", 2, params);
    if (!result)
        return -1;
    PQclear (result);
    return 0;
}

int
member_store_rank_exists (pg_t *db, const char *rank)
{
    const char *params [] = { rank };
    PGresult *result = pg_run (db, "member_rank_exists", 1, params);
    if (!result)
        return -1;
    int exists = PQntuples (result) > 0;
    PQclear (result);
    return exists;
}

member_store_rc_t
member_store_withdraw (pg_t *db, const Kaiin__Member__WithdrawRequest *request,
                       const audit_actor_t *actor, Kaiin__Member__Member *member)
{
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = { request->id, request->reason, now };
    return s_write (db, request->id, request->if_version, true, "member_withdraw", 3, params, NULL,
                    "member.withdrawn", actor, member);
}

/* Runs a tag statement for one tag; returns the rows it changed, or -1. */
static int
s_tag_run (pg_t *db, const char *statement, const char *seq, const char *tag, const char *now)
{
    const char *params [] = { seq, tag, now };
    PGresult *result = pg_run (db, statement, strcmp (statement, "member_tag_add") == 0? 3: 2, params);
    if (!result)
        return -1;
    int changed = atoi (PQcmdTuples (result));
    PQclear (result);
    return changed;
}

/* One member.tagged or member.untagged event. */
static int
s_tag_event (pg_t *db, const char *type, const char *tag, Kaiin__Member__Member *member,
             int64_t now_ms)
{
    Kaiin__Member__TagEvent event = KAIIN__MEMBER__TAG_EVENT__INIT;
    event.member_id = member->id;
    event.tag = (char *) tag;
    event.member = member;
    return outbox_append (db, type, member->id, &event.base, now_ms);
}

member_store_rc_t
member_store_tag (pg_t *db, const Kaiin__Member__TagRequest *request, const audit_actor_t *actor,
                  Kaiin__Member__Member *member)
{
    if (pg_begin (db) == -1)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_ERROR;
    Kaiin__Member__Member before = KAIIN__MEMBER__MEMBER__INIT;
    bool have_before = false, have_member = false;
    bool *added = calloc (request->n_add + 1, sizeof (bool));
    bool *removed = calloc (request->n_remove + 1, sizeof (bool));
    assert (added && removed);
    char seq [24], now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *key [] = { request->id };
    PGresult *result = pg_run (db, "member_lock", 1, key);
    if (!result)
        goto fail;
    rc = MEMBER_STORE_NOT_FOUND;
    if (PQntuples (result) == 0)
        goto fail;
    snprintf (seq, sizeof seq, "%lld", (long long) s_member_from_row (result, 0, &before));
    have_before = true;
    PQclear (result);
    result = NULL;
    rc = MEMBER_STORE_STALE;
    if (request->if_version && before.version != request->if_version)
        goto fail;
    rc = MEMBER_STORE_ERROR;
    int changes = 0;
    for (size_t i = 0; i < request->n_remove; i++) {
        int changed = s_tag_run (db, "member_tag_remove", seq, request->remove [i], now);
        if (changed == -1)
            goto fail;
        removed [i] = changed > 0;
        changes += changed;
    }
    for (size_t i = 0; i < request->n_add; i++) {
        int changed = s_tag_run (db, "member_tag_add", seq, request->add [i], now);
        if (changed == -1)
            goto fail;
        added [i] = changed > 0;
        changes += changed;
    }
    if (changes == 0) {
        /* Nothing changed: the member as it is, no event, no audit entry. Nothing was written,
           so ending with a commit is the same and keeps a caller's transaction (an import) alive. */
        if (pg_commit (db) == -1) {
            pg_rollback (db);
            member_store_clear (&before);
            free (added);
            free (removed);
            return MEMBER_STORE_ERROR;
        }
        *member = before;
        free (added);
        free (removed);
        return MEMBER_STORE_OK;
    }
    const char *seq_param [] = { seq };
    if (!(result = pg_run (db, "member_tag_count", 1, seq_param)))
        goto fail;
    rc = MEMBER_STORE_TOO_MANY_TAGS;
    if (atoi (PQgetvalue (result, 0, 0)) > MEMBER_STORE_TAGS_MAX)
        goto fail;
    rc = MEMBER_STORE_ERROR;
    PQclear (result);
    const char *touch [] = { request->id, now };
    if (!(result = pg_run (db, "member_touch", 2, touch)))
        goto fail;
    s_member_from_row (result, 0, member);
    have_member = true;
    PQclear (result);
    result = NULL;
    for (size_t i = 0; i < request->n_remove; i++)
        if (removed [i] && s_tag_event (db, "member.untagged", request->remove [i], member, actor->now_ms) == -1)
            goto fail;
    for (size_t i = 0; i < request->n_add; i++)
        if (added [i] && s_tag_event (db, "member.tagged", request->add [i], member, actor->now_ms) == -1)
            goto fail;
    char *audit_changes = member_store_changes (&before, member);
    int appended = audit_append (db, actor, "member.tagged", "member", member->id, audit_changes);
    free (audit_changes);
    if (appended == -1 || pg_commit (db) == -1)
        goto fail;
    member_store_clear (&before);
    free (added);
    free (removed);
    return MEMBER_STORE_OK;
fail:
    PQclear (result);
    if (have_before)
        member_store_clear (&before);
    if (have_member)
        member_store_clear (member);
    free (added);
    free (removed);
    pg_rollback (db);
    return rc;
}

/* --- search --------------------------------------------------------------------------------- */

member_store_rc_t
member_store_list (pg_t *db, const member_query_t *query, Kaiin__Member__ListReply *reply,
                   member_position_t *last, int *more)
{
    char after_seq [24], fetch [12], created_from [24], created_to [24], login_from [24], login_to [24];
    snprintf (after_seq, sizeof after_seq, "%lld", (long long) query->after.seq);
    snprintf (fetch, sizeof fetch, "%d", query->limit + 1);  /* one more tells whether more follow */
    snprintf (created_from, sizeof created_from, "%lld", (long long) query->created_from_ms);
    snprintf (created_to, sizeof created_to, "%lld", (long long) query->created_to_ms);
    snprintf (login_from, sizeof login_from, "%lld", (long long) query->last_login_from_ms);
    snprintf (login_to, sizeof login_to, "%lld", (long long) query->last_login_to_ms);
    const char *params [] = {
        query->status, query->email, query->q, query->rank, query->tags_array,
        query->tags_all? "t": "f", query->attributes, created_from, created_to, login_from,
        login_to, query->after.set? "t": "f", query->after.set? query->after.key: "", after_seq,
        fetch, query->q_selective? "t": "f"
    };
    /* Custom plans: each search is planned with its own values, so the filters it does not use
       fold away and the pattern of q can use the trigram index. */
    if (pg_begin (db) == -1)
        return MEMBER_STORE_ERROR;
    PGresult *result = NULL;
    if (pg_exec (db, "set local plan_cache_mode = force_custom_plan") == -1
    ||  !(result = pg_run (db, s_orders [query->sort].name, 16, params))
    ||  pg_commit (db) == -1) {
        PQclear (result);
        pg_rollback (db);
        return MEMBER_STORE_ERROR;
    }
    int rows = PQntuples (result);
    *more = rows > query->limit;
    if (*more)
        rows = query->limit;
    reply->members = calloc (rows? rows: 1, sizeof *reply->members);
    assert (reply->members);
    memset (last, 0, sizeof *last);
    for (int row = 0; row < rows; row++) {
        Kaiin__Member__Member *member = malloc (sizeof *member);
        assert (member);
        last->seq = s_member_from_row (result, row, member);
        last->set = true;
        bool by_kana = query->sort == MEMBER_SORT_KANA || query->sort == MEMBER_SORT_KANA_DESC;
        snprintf (last->key, sizeof last->key, "%s",
                  by_kana? member->name_kana: PQgetvalue (result, row, 25));
        reply->members [reply->n_members++] = member;
    }
    PQclear (result);
    return MEMBER_STORE_OK;
}

void
member_store_clear_list (Kaiin__Member__ListReply *reply)
{
    for (size_t i = 0; i < reply->n_members; i++) {
        member_store_clear (reply->members [i]);
        free (reply->members [i]);
    }
    free (reply->members);
    reply->members = NULL;
    reply->n_members = 0;
}

PGresult *
member_store_ids_by_email (pg_t *db, const char *emails)
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

member_store_rc_t
member_store_insert_bulk (pg_t *db, Kaiin__Member__Member *const *members, size_t count,
                          const audit_actor_t *actor)
{
    pg_buffer_t rows = { 0 }, events = { 0 }, audit = { 0 }, tags = { 0 }, consents = { 0 };
    char now [40], now_ms [24];
    clock_format_ms (actor->now_ms, now, sizeof now);
    snprintf (now_ms, sizeof now_ms, "%lld", (long long) actor->now_ms);
    for (size_t i = 0; i < count; i++) {
        const Kaiin__Member__Member *member = members [i];
        const Kaiin__Member__Consent *consent = member->marketing_consent;
        char consent_at [40] = "", at_ms [24] = "";
        if (consent) {
            clock_format_ms (consent->at_ms, consent_at, sizeof consent_at);
            snprintf (at_ms, sizeof at_ms, "%lld", (long long) consent->at_ms);
        }
        const char *fields [] = {
            member->id, member->email, member->name, member->name_kana, member->phone,
            *member->birthday? member->birthday: NULL, member->postal_code, member->prefecture,
            member->address, member->rank, *member->attributes_json? member->attributes_json: "{}",
            member->note, consent? (consent->email_opt_in? "t": "f"): NULL,
            consent? consent_at: NULL, consent? consent->method: NULL, consent? consent->source: NULL,
            now, now
        };
        size_t field_count = sizeof fields / sizeof fields [0];
        for (size_t f = 0; f < field_count; f++)
            pg_copy_field (&rows, fields [f], f + 1 == field_count);
        s_event_row (&events, "member.registered", member->id, now, &member->base);
        for (size_t t = 0; t < member->n_tags; t++) {
            const char *line [] = { member->id, member->tags [t] };
            s_blob_line (&tags, line, 2);
            Kaiin__Member__TagEvent tagged = KAIIN__MEMBER__TAG_EVENT__INIT;
            tagged.member_id = member->id;
            tagged.tag = member->tags [t];
            tagged.member = (Kaiin__Member__Member *) member;
            s_event_row (&events, "member.tagged", member->id, now, &tagged.base);
        }
        if (consent) {
            const char *line [] = { member->id, consent->email_opt_in? "t": "f", at_ms,
                                    consent->method, consent->source };
            s_blob_line (&consents, line, 5);
        }
        char *changes = member_store_changes (NULL, member);
        const char *entry [] = { now, actor->actor_id, actor->actor_role, "member.registered",
                                 "member", member->id, changes, actor->request_id, actor->ip };
        for (size_t f = 0; f < 9; f++)
            pg_copy_field (&audit, entry [f], f == 8);
        free (changes);
    }
    member_store_rc_t rc = MEMBER_STORE_ERROR;
    PGresult *result = NULL;
    if (pg_begin (db) == -1)
        goto done;
    if (pg_copy (db, "copy members (id, email, name, name_kana, phone, birthday, postal_code,"
                     " prefecture, address, rank, attributes, note, consent_opt_in, consent_at,"
                     " consent_method, consent_source, created_at, updated_at) from stdin",
                 rows.text, rows.used) == -1) {
        if (strcmp (pg_sqlstate (db), "23505") == 0)
            rc = MEMBER_STORE_DUPLICATE;
        else
        if (strcmp (pg_sqlstate (db), "23503") == 0)
            rc = MEMBER_STORE_NO_RANK;
        goto fail;
    }
    const char *tag_params [] = { tags.text, now_ms };
    if (tags.used && !(result = pg_run (db, "member_bulk_tags", 2, tag_params)))
        goto fail;
    PQclear (result);
    result = NULL;
    const char *consent_params [] = { consents.text, now_ms, actor->actor_id };
    if (consents.used && !(result = pg_run (db, "member_bulk_consents", 3, consent_params)))
        goto fail;
    PQclear (result);
    result = NULL;
    if (pg_copy (db, "copy outbox (type, aggregate_id, occurred_at, payload) from stdin",
                 events.text, events.used) == -1
    ||  pg_copy (db, "copy audit_log (at, actor_id, actor_role, action, target_type, target_id,"
                     " changes, request_id, ip) from stdin", audit.text, audit.used) == -1
    ||  pg_commit (db) == -1)
        goto fail;
    rc = MEMBER_STORE_OK;
    goto done;
fail:
    pg_rollback (db);
done:
    free (rows.text);
    free (events.text);
    free (audit.text);
    free (tags.text);
    free (consents.text);
    return rc;
}
