/* privacy.c - a member's data rights under APPI: a copy of everything, and erasure */
#include "privacy.h"
#include "member_check.h"
#include "member_crypt.h"
#include "member_record.h"
#include "outbox.h"
#include "privacy.pb-c.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The anonymising statements, run in order with $1 the member's id and $2 the time. */
static const char *const s_erase_steps [] = {
    "delete from member_tags where member_seq = (select seq from members where id = $1)",
    "delete from member_credentials where member_id = $1",
    /* the forgotten-password requests: the member's, and those its address made */
    "delete from password_resets where member_id = $1"
    " or email = (select lower (email) from members where id = $1)",
    "update member_logins set email = '', ip = '', user_agent = '' where member_id = $1",
    "update member_activities set path = null, properties = '{}' where member_id = $1",
    "update inquiry_messages set body = '(erased)'"
    " where inquiry_id in (select id from inquiries where member_id = $1)",
    "update inquiries set subject = '(erased)', version = version + 1, updated_at = " AT ("$2")
    " where member_id = $1",
    "update member_consents set source = '' where member_seq = (select seq from members where id = $1)",
    /* crypto-shredding: what the member's key sealed (the audit log's values, any copy of the
       record) cannot be opened again */
    "delete from member_keys where member_id = $1",
    /* the replies kept for Idempotency-Key (24 hours) that answered this member, in clear */
    "delete from idempotency_keys where position (convert_to ($1::text, 'UTF8') in reply) > 0",
    NULL
};

void
privacy_prepare (pg_t *db)
{
    char name [32];
    for (int step = 0; s_erase_steps [step]; step++) {
        snprintf (name, sizeof name, "privacy_erase_%d", step);
        pg_prepare (db, name, s_erase_steps [step]);
    }
    pg_prepare (db, "privacy_lock",
            "select status, erased_at is not null from members where id = $1 for update");
    pg_prepare (db, "privacy_anonymise",
            "update members set email = 'erased-' || id || '@erased.invalid', name = '',"
            " name_kana = '', phone = '', phone_hash = null, birthday = null, postal_code = '', prefecture = '',"
            " address = '', note = '', attributes = '{}', consent_source = null,"
            " status = 'withdrawn', withdrawn_at = coalesce (withdrawn_at, " AT ("$2") "),"
            " erased_at = " AT ("$2") ", updated_at = " AT ("$2") ", version = version + 1"
            " where id = $1");
    pg_prepare (db, "privacy_export",
            "select jsonb_pretty (jsonb_build_object ("
            "  'member', (select to_jsonb (m) - 'seq' - 'search_text' - 'phone_hash' from members m where m.id = $1),"
            "  'tags', (select coalesce (jsonb_agg (t.tag order by t.tag), '[]') from member_tags t"
            "           join members m on m.seq = t.member_seq where m.id = $1),"
            "  'consents', (select coalesce (jsonb_agg (to_jsonb (c) - 'seq' - 'member_seq' order by c.seq), '[]')"
            "               from member_consents c join members m on m.seq = c.member_seq where m.id = $1),"
            "  'has_password', exists (select 1 from member_credentials where member_id = $1),"
            "  'password_resets', (select coalesce (jsonb_agg (jsonb_build_object ('requested_at', r.requested_at,"
            "                        'ip', r.ip, 'expires_at', r.expires_at, 'used_at', r.used_at) order by r.seq), '[]')"
            "                      from password_resets r where r.member_id = $1"
            "                      or r.email = (select lower (email) from members where id = $1)),"
            "  'logins', (select coalesce (jsonb_agg (to_jsonb (l) - 'seq' - 'member_id' order by l.seq), '[]')"
            "             from member_logins l where l.member_id = $1),"
            "  'activities', (select coalesce (jsonb_agg (to_jsonb (a) - 'seq' - 'member_id' order by a.seq), '[]')"
            "                 from member_activities a where a.member_id = $1),"
            "  'inquiries', (select coalesce (jsonb_agg (to_jsonb (i) - 'seq' - 'member_id'"
            "                  || jsonb_build_object ('messages', (select coalesce (jsonb_agg ("
            "                       to_jsonb (x) - 'seq' - 'inquiry_id' order by x.seq), '[]')"
            "                     from inquiry_messages x where x.inquiry_id = i.id)) order by i.seq), '[]')"
            "                from inquiries i where i.member_id = $1),"
            "  'audit_log', (select coalesce (jsonb_agg (jsonb_build_object ('at', g.at, 'actor_id', g.actor_id,"
            "                  'actor_role', g.actor_role, 'action', g.action, 'changes', g.changes) order by g.seq), '[]')"
            "                from audit_log g where g.target_type = 'member' and g.target_id = $1::text)"
            ")), (select wrapped_key from member_keys where member_id = $1)"
            " where exists (select 1 from members where id = $1)");
}

/* Everything the member service holds about member id, as a JSON document (a new string the
   caller frees in *json). NOT_FOUND when there is no such member. */
static member_rc_t
s_export (pg_t *db, const char *id, char **json)
{
    const char *params [] = { id };
    PGresult *result = pg_run (db, "privacy_export", 1, params);
    if (!result)
        return MEMBER_ERROR;
    member_rc_t rc = MEMBER_NOT_FOUND;
    if (PQntuples (result) == 1) {
        *json = strdup (PQgetvalue (result, 0, 0));
        member_crypt_open_json (json, id, PQgetisnull (result, 0, 1)? NULL: PQgetvalue (result, 0, 1));
        rc = MEMBER_OK;
    }
    PQclear (result);
    return rc;
}

/* Anonymises member id in one transaction: the record's personal fields, its tags, password,
   the addresses and agents of its logins, its activities' paths and properties, its inquiries'
   texts; sets it withdrawn and erased; appends member.erased and an audit entry (reason, no
   personal data). *member (the caller frees it) is the record afterwards. MEMBER_WITHDRAWN
   when it was erased already (an erasure happens once). */
static member_rc_t
s_erase (pg_t *db, const char *id, const char *reason, const audit_actor_t *actor,
         Kaiin__Member__Member **member)
{
    char now [24], name [32];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = { id, now };
    if (pg_begin (db) == -1)
        return MEMBER_ERROR;
    member_rc_t rc = MEMBER_ERROR;
    PGresult *result = pg_run (db, "privacy_lock", 1, params);
    if (!result)
        goto fail;
    rc = PQntuples (result) == 0? MEMBER_NOT_FOUND
       : PQgetvalue (result, 0, 1) [0] == 't'? MEMBER_WITHDRAWN: MEMBER_OK;
    PQclear (result);
    if (rc != MEMBER_OK)
        goto fail;
    rc = MEMBER_ERROR;
    for (int step = 0; s_erase_steps [step]; step++) {
        snprintf (name, sizeof name, "privacy_erase_%d", step);
        int count = strstr (s_erase_steps [step], "$2")? 2: 1;
        if (!(result = pg_run (db, name, count, params)))
            goto fail;
        PQclear (result);
    }
    if (!(result = pg_run (db, "privacy_anonymise", 2, params)))
        goto fail;
    PQclear (result);
    if (member_record_get (db, id, member) != MEMBER_OK)
        goto fail;
    json_t *details = json_pack ("{s:s}", "reason", reason);
    char *text = json_dumps (details, JSON_COMPACT);
    json_decref (details);
    int appended = outbox_append (db, "member.erased", (*member)->id, &(*member)->base, actor->now_ms) == 0
                && audit_append (db, actor, "member.erased", "member", (*member)->id, text) == 0;
    free (text);
    if (!appended || pg_commit (db) == -1) {
        protobuf_c_message_free_unpacked (&(*member)->base, NULL);
        goto fail;
    }
    return MEMBER_OK;
fail:
    pg_rollback (db);
    return rc;
}

int
privacy_api_export (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Privacy__DataExportRequest *export = (Kaiin__Privacy__DataExportRequest *)
        svc_unpack (request, &kaiin__privacy__data_export_request__descriptor, reply);
    if (!export)
        return -1;
    int rc = -1;
    char *json = NULL;
    if (!member_uuid (export->id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    else {
        member_rc_t found = s_export (request->db, export->id, &json);
        if (found == MEMBER_NOT_FOUND)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
        else
        if (found != MEMBER_OK)
            svc_db_fail (reply, request->db);
        else {
            Kaiin__Privacy__DataExportReply answer = KAIIN__PRIVACY__DATA_EXPORT_REPLY__INIT;
            answer.json = json;
            rc = svc_reply_with (reply, &answer.base);
        }
    }
    free (json);
    protobuf_c_message_free_unpacked (&export->base, NULL);
    return rc;
}

int
privacy_api_erase (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Privacy__EraseRequest *erase = (Kaiin__Privacy__EraseRequest *)
        svc_unpack (request, &kaiin__privacy__erase_request__descriptor, reply);
    if (!erase)
        return -1;
    int rc = -1;
    long reason_length = member_check_text_length (erase->reason);
    if (reason_length < 0 || reason_length > 500)
        svc_field_error (reply, "reason", "must be at most 500 characters, without control characters");
    else
    if (!member_uuid (erase->id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    else {
        Kaiin__Member__Member *member;
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        member_rc_t erased = s_erase (request->db, erase->id, erase->reason, &actor, &member);
        if (erased == MEMBER_OK) {
            rc = svc_reply_with (reply, &member->base);
            svc_reply_session_end (reply, "member", member->id, false);
            protobuf_c_message_free_unpacked (&member->base, NULL);
        }
        else
        if (erased == MEMBER_NOT_FOUND)
            svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
        else
        if (erased == MEMBER_WITHDRAWN)
            svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the member's data was erased already");
        else
            svc_db_fail (reply, request->db);
    }
    protobuf_c_message_free_unpacked (&erase->base, NULL);
    return rc;
}
