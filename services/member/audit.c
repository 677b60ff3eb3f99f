/* audit.c - the append-only audit log: who did what to which record, before and after */
#include "audit.h"
#include "member_crypt.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

audit_actor_t
audit_actor_of (svc_request_t *request, int64_t now_ms)
{
    const Kaiin__Request *envelope = request->envelope;
    audit_actor_t actor = { envelope->caller_id, envelope->caller_role, envelope->request_id,
                            envelope->client_ip, now_ms };
    return actor;
}

void
audit_prepare (pg_t *db)
{
    pg_prepare (db, "audit_append",
            "insert into audit_log (at, actor_id, actor_role, action, target_type, target_id,"
            " changes, request_id, ip) values (" AT ("$1") ", $2, $3, $4, $5, $6,"
            " coalesce ($7::jsonb, '{}'), $8, $9)");
    pg_prepare (db, "audit_list",
            "select seq, " MS ("at") " as at_ms, actor_id, actor_role, action, target_type,"
            " target_id, changes::text as changes_json, request_id, ip,"
            " case when target_type = 'member' and length (target_id) = 36 then (select k.wrapped_key"
            "   from member_keys k where k.member_id = target_id::uuid) end as wrapped_key from audit_log"
            " where ($1::bigint = 0 or seq < $1)"
            "   and ($2 = '' or actor_id = $2)"
            "   and ($3 = '' or action = $3 or (right ($3, 1) = '.' and starts_with (action, $3)))"
            "   and ($4 = '' or target_type = $4)"
            "   and ($5 = '' or target_id = $5)"
            "   and ($6::bigint = 0 or at >= " AT ("$6") ")"
            "   and ($7::bigint = 0 or at < " AT ("$7") ")"
            " order by seq desc limit $8");
}

int
audit_append (pg_t *db, const audit_actor_t *actor, const char *action,
              const char *target_type, const char *target_id, const char *changes)
{
    char now [24];
    const char *params [] = { NUM (now, actor->now_ms), actor->actor_id, actor->actor_role, action, target_type,
                              target_id, changes, actor->request_id, actor->ip };
    PGresult *result = pg_run (db, "audit_append", 9, params);
    if (!result)
        return -1;
    PQclear (result);
    return 0;
}

member_rc_t
audit_run (pg_t *db, const char *statement, int count, const char *const *params,
           const audit_actor_t *actor, const char *action, const char *target_type,
           const char *target_id, const char *changes, PGresult **result_p)
{
    if (pg_begin (db) == -1)
        return MEMBER_ERROR;
    member_rc_t rc = MEMBER_ERROR;
    PGresult *result = pg_run (db, statement, count, params);
    if (!result) {
        if (strcmp (pg_sqlstate (db), "23505") == 0)
            rc = MEMBER_DUPLICATE;
        goto fail;
    }
    rc = MEMBER_NOT_FOUND;
    if (!target_id && PQntuples (result) == 0)
        goto fail;
    rc = MEMBER_ERROR;
    if (audit_append (db, actor, action, target_type, target_id? target_id: PQgetvalue (result, 0, 0),
                      changes) == -1
    ||  pg_commit (db) == -1)
        goto fail;
    if (result_p)
        *result_p = result;
    else
        PQclear (result);
    return MEMBER_OK;
fail:
    PQclear (result);
    pg_rollback (db);
    return rc;
}

int
audit_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Audit__ListRequest *query = (Kaiin__Audit__ListRequest *)
        svc_unpack (request, &kaiin__audit__list_request__descriptor, reply);
    if (!query)
        return -1;
    int limit = query->limit? query->limit: 50;
    if (limit < 1 || limit > 200)
        svc_field_error (reply, "limit", "must be from 1 to 200");
    /* Cursors are "a" and the last entry's position in hex. */
    int64_t before_seq = 0;
    if (*query->cursor && (query->cursor [0] != 'a' || sscanf (query->cursor + 1, "%" SCNx64, &before_seq) != 1
                           || before_seq <= 0))
        svc_field_error (reply, "cursor", "is not a cursor this API returned");
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        char before [24], from [24], to [24], fetch [24];
        const char *params [] = { NUM (before, before_seq), query->actor_id, query->action,
                                  query->target_type, query->target_id, NUM (from, query->from_ms),
                                  NUM (to, query->to_ms), NUM (fetch, limit + 1) };
        PGresult *result = pg_run (request->db, "audit_list", 8, params);
        if (!result)
            rc = svc_db_fail (reply, request->db);
        else {
            Kaiin__Audit__ListReply *page = (Kaiin__Audit__ListReply *)
                member_page (result, limit, &kaiin__audit__list_reply__descriptor, "entries", 'a');
            /* a member's values opened with its key; once erased, "(erased)" */
            int wrapped = PQfnumber (result, "wrapped_key");
            for (size_t i = 0; i < page->n_entries; i++)
                if (strcmp (page->entries [i]->target_type, "member") == 0)
                    member_crypt_open_json (&page->entries [i]->changes_json, page->entries [i]->target_id,
                                            PQgetisnull (result, (int) i, wrapped)? NULL
                                            : PQgetvalue (result, (int) i, wrapped));
            rc = svc_reply_with (reply, &page->base);
            protobuf_c_message_free_unpacked (&page->base, NULL);
            PQclear (result);
        }
    }
    protobuf_c_message_free_unpacked (&query->base, NULL);
    return rc;
}
