/* member_record.c - a member's record: created, read (alone or many at once), changed,
   withdrawn; its row, its events, and the audit log's before and after */
#include "member_record.h"
#include "mdp.h"
#include "member_bulk.h"
#include "member_check.h"
#include "member_crypt.h"
#include "outbox.h"
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REASON_MAX_CHARS  500

void
member_record_prepare (pg_t *db)
{
    pg_prepare (db, "member_insert",
            "with key as (insert into member_keys (member_id, wrapped_key) values ($17, $18))"
            " insert into members (id, phone_hash, email, name, name_kana, phone, created_at, updated_at, birthday,"
            "  postal_code, prefecture, address, rank, attributes, note, consent_opt_in, consent_at,"
            "  consent_method, consent_source)"
            " values ($17, nullif ($19, ''), $1, $2, $3, $4, " AT ("$5") ", " AT ("$5") ", nullif ($6, ''), $7, $8, $9,"
            "  coalesce (nullif ($10, ''), 'basic'), jsonb_strip_nulls (coalesce (nullif ($11, ''), '{}')::jsonb), $12,"
            "  nullif ($13, '')::boolean, " AT ("nullif ($14, '')") ", nullif ($15, ''), nullif ($16, ''))"
            " returning " MEMBER_COLUMNS);
    pg_prepare (db, "member_get", "select " MEMBER_COLUMNS " from members where id = $1");
    pg_prepare (db, "member_get_many", "select " MEMBER_COLUMNS " from members where id = any ($1::uuid [])");
    pg_prepare (db, "member_lock", "select " MEMBER_COLUMNS " from members where id = $1 for update");
    pg_prepare (db, "member_exists", "select 1 from members where id = $1");
    pg_prepare (db, "member_update",
            "update members set"
            "  email = case when $2 then $3 else email end,"
            "  name = case when $4 then $5 else name end,"
            "  name_kana = case when $6 then $7 else name_kana end,"
            "  phone = case when $8 then $9 else phone end,"
            "  phone_hash = case when $8 then nullif ($32, '') else phone_hash end,"
            "  birthday = case when $10 then nullif ($11, '') else birthday end,"
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
            " where id = $1 returning " MEMBER_COLUMNS);
    pg_prepare (db, "member_withdraw",
            "update members set status = 'withdrawn', withdrawn_reason = nullif ($2, ''),"
            "  withdrawn_at = " AT ("$3") ", updated_at = " AT ("$3") ", version = version + 1"
            " where id = $1 returning " MEMBER_COLUMNS);
    pg_prepare (db, "member_consent_insert",
            "insert into member_consents (member_seq, email_opt_in, at, method, source, recorded_at,"
            "  recorded_by) values ($1, $2, " AT ("$3") ", $4, $5, " AT ("$6") ", $7)");
}

Kaiin__Member__Member *
member_record_of_row (PGresult *result, int row)
{
    Kaiin__Member__Member *member = (Kaiin__Member__Member *)
        pg_row_message (result, row, &kaiin__member__member__descriptor);
    int wrapped = PQfnumber (result, "wrapped_key");
    if (wrapped >= 0 && !PQgetisnull (result, row, wrapped)) {
        member_key_t key;
        bool opens = member_crypt_key_open (member->id, PQgetvalue (result, row, wrapped), &key) == 0;
        member_crypt_open_member (member, opens? &key: NULL);
    }
    if (!PQgetisnull (result, row, PQfnumber (result, "email_opt_in")))    /* one was recorded */
        member->marketing_consent = (Kaiin__Member__Consent *)
            pg_row_message (result, row, &kaiin__member__consent__descriptor);
    return member;
}

/* Runs a statement that answers one member's row: *member (the caller frees it) and, when seq
   is not NULL, *seq. */
static member_rc_t
s_read (pg_t *db, const char *statement, int count, const char *const *params,
        Kaiin__Member__Member **member, int64_t *seq)
{
    PGresult *result;
    member_rc_t rc = member_one (db, statement, count, params, &result);
    if (rc == MEMBER_OK) {
        *member = member_record_of_row (result, 0);
        if (seq)
            *seq = member_seq (result, 0);
        PQclear (result);
    }
    return rc;
}

member_rc_t
member_record_get (pg_t *db, const char *id, Kaiin__Member__Member **member)
{
    const char *params [] = { id };
    return s_read (db, "member_get", 1, params, member, NULL);
}

member_rc_t
member_record_lock (pg_t *db, const char *id, Kaiin__Member__Member **member, int64_t *seq)
{
    const char *params [] = { id };
    return s_read (db, "member_lock", 1, params, member, seq);
}

member_rc_t
member_record_refused (pg_t *db)
{
    const char *state = pg_sqlstate (db);
    return strcmp (state, "23505") == 0? MEMBER_DUPLICATE
         : strcmp (state, "23503") == 0? MEMBER_NO_RANK: MEMBER_ERROR;
}

int
member_record_exists (pg_t *db, const char *id)
{
    const char *params [] = { id };
    PGresult *result = pg_run (db, "member_exists", 1, params);
    if (!result)
        return -1;
    int exists = PQntuples (result) == 1;
    PQclear (result);
    return exists;
}

int
member_record_require (svc_request_t *request, svc_reply_t *reply, const char *member_id)
{
    int exists = member_uuid (member_id)? member_record_exists (request->db, member_id): 0;
    if (exists == -1)
        return svc_db_fail (reply, request->db);
    if (exists == 0)
        return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    return 0;
}

/* Adds consent to the member's consent history, inside the open transaction. */
static int
s_record_consent (pg_t *db, int64_t position, const Kaiin__Member__Consent *consent,
                  const audit_actor_t *actor)
{
    char seq [24], at [24], now [24];
    const char *params [] = { NUM (seq, position), consent->email_opt_in? "t": "f",
                              NUM (at, consent->at_ms), consent->method, consent->source,
                              NUM (now, actor->now_ms), actor->actor_id };
    PGresult *result = pg_run (db, "member_consent_insert", 7, params);
    if (!result)
        return -1;
    PQclear (result);
    return 0;
}

/* In one transaction: locks the member's row and reads it (unless creating), checks the
   precondition, runs the statement that writes it, records a consent given, and appends its
   event and audit entry. key (NULL when the statement writes no personal field) is the
   member's data key: the row's fields sealed with it are opened, and so are the audit entry's
   values. *member (the caller frees it) is the row it wrote. */
static member_rc_t
s_write (pg_t *db, const char *id, int64_t if_version, bool refuse_withdrawn, const char *statement,
         int count, const char *const *params, const Kaiin__Member__Consent *consent,
         const char *event_type, const audit_actor_t *actor, const member_key_t *key,
         Kaiin__Member__Member **member)
{
    if (pg_begin (db) == -1)
        return MEMBER_ERROR;
    member_rc_t rc = MEMBER_ERROR;
    Kaiin__Member__Member *before = NULL;
    *member = NULL;
    if (id) {
        if ((rc = member_record_lock (db, id, &before, NULL)) != MEMBER_OK)
            goto fail;
        rc = MEMBER_STALE;
        if (if_version && before->version != if_version)
            goto fail;
        rc = MEMBER_WITHDRAWN;
        if (refuse_withdrawn && strcmp (before->status, "withdrawn") == 0)
            goto fail;
        rc = MEMBER_ERROR;
    }
    int64_t seq;
    if (s_read (db, statement, count, params, member, &seq) != MEMBER_OK) {
        rc = member_record_refused (db);
        goto fail;
    }
    if (key)
        member_crypt_open_member (*member, key);
    if (consent && s_record_consent (db, seq, consent, actor) == -1)
        goto fail;
    char *changes = member_record_changes (before, *member);
    if (key)
        member_crypt_seal_changes (&changes, (*member)->id, key);
    const char *action = strchr (event_type, '.') + 1;
    char audit_action [48];
    snprintf (audit_action, sizeof audit_action, "member.%s", action);
    Kaiin__Member__Member event = member_crypt_public (*member);
    int appended = outbox_append (db, event_type, (*member)->id, &event.base, actor->now_ms) == 0
                && audit_append (db, actor, audit_action, "member", (*member)->id, changes) == 0;
    free (changes);
    if (!appended || pg_commit (db) == -1)
        goto fail;
    if (before)
        protobuf_c_message_free_unpacked (&before->base, NULL);
    return MEMBER_OK;
fail:
    if (before)
        protobuf_c_message_free_unpacked (&before->base, NULL);
    if (*member)
        protobuf_c_message_free_unpacked (&(*member)->base, NULL);
    *member = NULL;
    pg_rollback (db);
    return rc;
}

/* A member holding only id and the personal fields given, sealed with key: a new message the
   caller frees. */
static Kaiin__Member__Member *
s_sealed (const char *id, const char *phone, const char *birthday, const char *address,
          const char *note, const member_key_t *key)
{
    Kaiin__Member__Member *sealed = (Kaiin__Member__Member *)
        member_message_new (&kaiin__member__member__descriptor);
    sealed->id = strdup (id);
    sealed->phone = strdup (phone);
    sealed->birthday = strdup (birthday);
    sealed->address = strdup (address);
    sealed->note = strdup (note);
    member_crypt_seal_member (sealed, key);
    return sealed;
}

member_rc_t
member_record_create (pg_t *db, const Kaiin__Member__CreateRequest *request,
                      const audit_actor_t *actor, Kaiin__Member__Member **member)
{
    char now [24], consent_at [24] = "", id [37], phone_hash [65];
    const Kaiin__Member__Consent *consent = request->marketing_consent;
    if (consent)
        snprintf (consent_at, sizeof consent_at, "%lld", (long long) consent->at_ms);
    member_key_t key;
    char *wrapped = member_uuid_new (id) == 0? member_crypt_key_new (id, &key): NULL;
    if (!wrapped)
        return MEMBER_ERROR;
    member_crypt_phone_hash (request->phone, phone_hash);
    Kaiin__Member__Member *sealed = s_sealed (id, request->phone, request->birthday, request->address,
                                              request->note, &key);
    const char *params [] = {
        request->email, request->name, request->name_kana, sealed->phone, NUM (now, actor->now_ms),
        sealed->birthday, request->postal_code, request->prefecture, sealed->address,
        request->rank, request->attributes_json, sealed->note,
        consent? (consent->email_opt_in? "t": "f"): "", consent_at,
        consent? consent->method: "", consent? consent->source: "", id, wrapped, phone_hash
    };
    member_rc_t rc = s_write (db, NULL, 0, false, "member_insert", 19, params, consent,
                              "member.registered", actor, &key, member);
    free (wrapped);
    protobuf_c_message_free_unpacked (&sealed->base, NULL);
    return rc;
}

member_rc_t
member_record_update (pg_t *db, const Kaiin__Member__UpdateRequest *request,
                      const audit_actor_t *actor, Kaiin__Member__Member **member)
{
    if (request->n_update_mask == 0) {
        /* Nothing to change: answer the current state, still honouring the precondition. */
        member_rc_t rc = member_record_get (db, request->id, member);
        if (rc == MEMBER_OK && request->if_version && (*member)->version != request->if_version) {
            protobuf_c_message_free_unpacked (&(*member)->base, NULL);
            *member = NULL;
            rc = MEMBER_STALE;
        }
        return rc;
    }
    char now [24], consent_at [24] = "0", phone_hash [65];
    member_key_t key;
    member_rc_t rc = member_crypt_key_of (db, request->id, &key);
    if (rc != MEMBER_OK)
        return rc;
    member_crypt_phone_hash (request->phone, phone_hash);
    Kaiin__Member__Member *sealed = s_sealed (request->id, request->phone, request->birthday, request->address,
                                              request->note, &key);
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
        FLAG ("phone"), sealed->phone,
        FLAG ("birthday"), sealed->birthday,
        FLAG ("postal_code"), request->postal_code,
        FLAG ("prefecture"), request->prefecture,
        FLAG ("address"), sealed->address,
        FLAG ("rank"), request->rank,
        FLAG ("status"), request->status,
        FLAG ("attributes"), *request->attributes_json? request->attributes_json: "{}",
        FLAG ("note"), sealed->note,
        consent? "t": "f", consent && consent->email_opt_in? "t": "f", consent_at,
        consent? consent->method: "", consent? consent->source: "",
        NUM (now, actor->now_ms), phone_hash
    };
#undef FLAG
    rc = s_write (db, request->id, request->if_version, SVC_MASKED (request, "status"),
                  "member_update", 32, params, consent, "member.updated", actor, &key, member);
    protobuf_c_message_free_unpacked (&sealed->base, NULL);
    return rc;
}

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
s_json_text (const char *text)
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
member_record_changes (const Kaiin__Member__Member *before, const Kaiin__Member__Member *after)
{
    json_t *changes = json_object ();
#define TEXT_FIELD(field) \
    s_diff_value (changes, #field, before? s_json_text (before->field): NULL, s_json_text (after->field))
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

/* --- the methods --------------------------------------------------------------------------- */

bool
member_record_masks_phone (const svc_request_t *request)
{
    return strcmp (request->envelope->caller_role, "viewer") == 0;
}

void
member_record_mask (svc_request_t *request, Kaiin__Member__Member *member)
{
    if (!member_record_masks_phone (request))
        return;
    int kept = 0;                       /* the last four digits stay, whatever is between */
    for (size_t i = strlen (member->phone); i-- > 0;)
        if (isdigit ((unsigned char) member->phone [i]) && kept++ >= 4)
            member->phone [i] = '*';
    if (*member->address) {
        free (member->address);
        member->address = strdup ("***");
    }
}

int
member_record_answer (svc_request_t *request, svc_reply_t *reply, member_rc_t rc,
                      Kaiin__Member__Member *member)
{
    switch (rc) {
        case MEMBER_OK:
            member_record_mask (request, member);
            svc_reply_with (reply, &member->base);
            protobuf_c_message_free_unpacked (&member->base, NULL);
            return 0;
        case MEMBER_NOT_FOUND:
            return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
        case MEMBER_DUPLICATE:
            svc_field_error (reply, "email", "another member has this email address");
            return svc_fail (reply, KAIIN__STATUS__ALREADY_EXISTS, "a member with this email exists");
        case MEMBER_STALE:
            return svc_fail (reply, KAIIN__STATUS__ABORTED,
                             "the member changed since the version given in If-Match");
        case MEMBER_WITHDRAWN:
            return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                             "the member has already withdrawn");
        case MEMBER_NO_RANK:
            svc_field_error (reply, "rank", "is not a rank defined in /v1/member-ranks");
            return -1;
        case MEMBER_TOO_MANY_TAGS:
            svc_field_error (reply, "add", "a member can have at most %d tags", MEMBER_TAGS_MAX);
            return -1;
        default:
            return svc_db_fail (reply, request->db);
    }
}

int
member_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__CreateRequest *create = (Kaiin__Member__CreateRequest *)
        svc_unpack (request, &kaiin__member__create_request__descriptor, reply);
    if (!create)
        return -1;
    int rc = -1;
    if (member_check_create (request, create, reply) == 0) {
        Kaiin__Member__Member *member;
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        member_rc_t created = member_record_create (request->db, create, &actor, &member);
        rc = member_record_answer (request, reply, created, member);
    }
    protobuf_c_message_free_unpacked (&create->base, NULL);
    return rc;
}

/* Several members at once, by valid uuid: found [i] tells whether members [i] was read (the
   caller frees those). MEMBER_OK or MEMBER_ERROR. */
static member_rc_t
s_get_many (pg_t *db, const char *const *ids, int count, Kaiin__Member__Member **members,
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
        return MEMBER_ERROR;
    int id_column = PQfnumber (result, "id");
    for (int row = 0; row < PQntuples (result); row++)
        for (int i = 0; i < count; i++)        /* an id asked twice is answered twice */
            if (!found [i] && strcasecmp (PQgetvalue (result, row, id_column), ids [i]) == 0) {
                members [i] = member_record_of_row (result, row);
                found [i] = true;
            }
    PQclear (result);
    return MEMBER_OK;
}

void
member_api_get_many (svc_request_t *const *requests, svc_reply_t *const *replies, int count)
{
    Kaiin__Member__GetRequest *gets [MDP_MAX_CREDIT];
    const char *ids [MDP_MAX_CREDIT];
    int asked [MDP_MAX_CREDIT], asking = 0;
    for (int i = 0; i < count; i++) {
        Kaiin__Member__GetRequest *get = gets [i] = (Kaiin__Member__GetRequest *)
            svc_unpack (requests [i], &kaiin__member__get_request__descriptor, replies [i]);
        if (get && member_id_ok (replies [i], get->id, "no such member")) {
            ids [asking] = get->id;
            asked [asking++] = i;
        }
    }
    Kaiin__Member__Member *members [MDP_MAX_CREDIT] = { NULL };
    bool found [MDP_MAX_CREDIT];
    member_rc_t rc = asking? s_get_many (requests [0]->db, ids, asking, members, found): MEMBER_OK;
    for (int k = 0; k < asking; k++)
        member_record_answer (requests [asked [k]], replies [asked [k]],
                              rc != MEMBER_OK? rc: found [k]? MEMBER_OK: MEMBER_NOT_FOUND, members [k]);
    for (int i = 0; i < count; i++)
        if (gets [i])
            protobuf_c_message_free_unpacked (&gets [i]->base, NULL);
}

/* The new member a checked create makes, by actor: fields borrowed from create, its id from id. */
static void
s_member_of_create (const Kaiin__Member__CreateRequest *create, const audit_actor_t *actor, char *id,
                    Kaiin__Member__Member *member)
{
    kaiin__member__member__init (member);
    member->id = id;
    member->email = create->email;
    member->name = create->name;
    member->name_kana = create->name_kana;
    member->phone = create->phone;
    member->birthday = create->birthday;
    member->postal_code = create->postal_code;
    member->prefecture = create->prefecture;
    member->address = create->address;
    member->rank = *create->rank? create->rank: "basic";
    member->note = create->note;
    member->attributes_json = "{}";
    member->status = "free";
    member->version = 1;
    member->created_at_ms = member->updated_at_ms = actor->now_ms;
    member->marketing_consent = create->marketing_consent;
}

/* Whether email (lower-cased) is among the lines of taken, or the first count of emails. */
static bool
s_email_taken (const char *email, PGresult *taken, char *const *emails, int count)
{
    for (int row = 0; row < PQntuples (taken); row++)
        if (strcmp (PQgetvalue (taken, row, 0), email) == 0)
            return true;
    for (int i = 0; i < count; i++)
        if (strcmp (emails [i], email) == 0)
            return true;
    return false;
}

int
member_api_create_group (svc_request_t *const *requests, svc_reply_t *const *replies, bool *served,
                         int count)
{
    if (member_check_cache_attributes (requests [0], true) == -1)
        return -1;
    pg_t *db = requests [0]->db;
    Kaiin__Member__CreateRequest *creates [MDP_MAX_CREDIT] = { NULL };
    char *emails [MDP_MAX_CREDIT], ids [MDP_MAX_CREDIT][37];
    int checked [MDP_MAX_CREDIT], fresh [MDP_MAX_CREDIT], n_checked = 0, n_fresh = 0, rc = -1;
    pg_buffer_t lines = { NULL, 0, 0 };
    for (int i = 0; i < count; i++) {
        creates [i] = (Kaiin__Member__CreateRequest *)
            svc_unpack (requests [i], &kaiin__member__create_request__descriptor, replies [i]);
        if (creates [i] && *creates [i]->attributes_json)
            continue;                   /* Create's own path: its attributes as stored */
        served [i] = true;
        if (!creates [i] || member_check_create (requests [i], creates [i], replies [i]) == -1)
            continue;
        char *email = emails [n_checked] = strdup (creates [i]->email);
        for (char *c = email; *c; c++)
            *c = (char) tolower ((unsigned char) *c);
        if (lines.used)
            pg_buffer_append (&lines, "\n", 1);
        pg_buffer_append (&lines, email, strlen (email));
        checked [n_checked++] = i;
    }
    member_check_cache_attributes (requests [0], false);
    pg_buffer_append (&lines, "", 1);
    PGresult *taken = n_checked? member_bulk_ids_by_email (db, lines.text): NULL;
    Kaiin__Member__Member members [MDP_MAX_CREDIT], *list [MDP_MAX_CREDIT], *stored [MDP_MAX_CREDIT];
    audit_actor_t actor_of [MDP_MAX_CREDIT];
    const audit_actor_t *actors [MDP_MAX_CREDIT];
    const char *id_list [MDP_MAX_CREDIT];
    bool found [MDP_MAX_CREDIT];
    if (n_checked && !taken)
        goto done;
    for (int k = 0; k < n_checked; k++) {
        int i = checked [k];
        if (s_email_taken (emails [k], taken, emails, k)) {
            member_record_answer (requests [i], replies [i], MEMBER_DUPLICATE, NULL);
            continue;
        }
        if (member_uuid_new (ids [n_fresh]) == -1)
            goto done;
        actor_of [n_fresh] = audit_actor_of (requests [i], member_now (requests [i]));
        actors [n_fresh] = &actor_of [n_fresh];
        s_member_of_create (creates [i], &actor_of [n_fresh], ids [n_fresh], &members [n_fresh]);
        list [n_fresh] = &members [n_fresh];
        id_list [n_fresh] = ids [n_fresh];
        fresh [n_fresh++] = i;
    }
    if (n_fresh && (member_bulk_insert (db, list, (size_t) n_fresh, actors) != MEMBER_OK
                ||  s_get_many (db, id_list, n_fresh, stored, found) != MEMBER_OK))
        goto done;
    for (int k = 0; k < n_fresh; k++)
        member_record_answer (requests [fresh [k]], replies [fresh [k]],
                              found [k]? MEMBER_OK: MEMBER_ERROR, found [k]? stored [k]: NULL);
    rc = 0;
done:
    PQclear (taken);
    free (lines.text);
    for (int k = 0; k < n_checked; k++)
        free (emails [k]);
    for (int i = 0; i < count; i++)
        if (creates [i])
            protobuf_c_message_free_unpacked (&creates [i]->base, NULL);
    return rc;
}

int
member_api_get (svc_request_t *request, svc_reply_t *reply)
{
    member_api_get_many (&request, &reply, 1);
    return reply->status == KAIIN__STATUS__OK? 0: -1;
}

int
member_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__UpdateRequest *update = (Kaiin__Member__UpdateRequest *)
        svc_unpack (request, &kaiin__member__update_request__descriptor, reply);
    if (!update)
        return -1;
    int rc = -1;
    if (member_check_update (request, update, reply) == 0 && member_id_ok (reply, update->id, "no such member")) {
        Kaiin__Member__Member *member;
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        member_rc_t updated = member_record_update (request->db, update, &actor, &member);
        rc = member_record_answer (request, reply, updated, member);
    }
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}

int
member_api_withdraw (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__WithdrawRequest *withdraw = (Kaiin__Member__WithdrawRequest *)
        svc_unpack (request, &kaiin__member__withdraw_request__descriptor, reply);
    if (!withdraw)
        return -1;
    member_check_text (reply, "reason", withdraw->reason, REASON_MAX_CHARS);
    int rc = -1;
    if (member_id_ok (reply, withdraw->id, "no such member")) {
        Kaiin__Member__Member *member;
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        char now [24];
        const char *params [] = { withdraw->id, withdraw->reason, NUM (now, actor.now_ms) };
        member_rc_t withdrawn = s_write (request->db, withdraw->id, withdraw->if_version, true,
                                         "member_withdraw", 3, params, NULL, "member.withdrawn",
                                         &actor, NULL, &member);
        if (withdrawn == MEMBER_OK)     /* a member who withdraws is signed out everywhere */
            svc_reply_session_end (reply, "member", member->id, false);
        rc = member_record_answer (request, reply, withdrawn, member);
    }
    protobuf_c_message_free_unpacked (&withdraw->base, NULL);
    return rc;
}
