/* audit.c - the append-only audit log: who did what to which record, before and after */
#include "audit.h"
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
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

int
audit_prepare (pg_t *db)
{
    if (pg_prepare (db, "audit_append",
            "insert into audit_log (at, actor_id, actor_role, action, target_type, target_id,"
            " changes, request_id, ip) values (to_timestamp ($1::bigint / 1000.0), $2, $3, $4, $5, $6,"
            " coalesce ($7::jsonb, '{}'), $8, $9)") == -1
    ||  pg_prepare (db, "audit_list",
            "select seq, (extract (epoch from at) * 1000)::bigint, actor_id, actor_role, action,"
            " target_type, target_id, changes::text, request_id, ip from audit_log"
            " where ($1::bigint = 0 or seq < $1)"
            "   and ($2 = '' or actor_id = $2)"
            "   and ($3 = '' or action = $3 or (right ($3, 1) = '.' and starts_with (action, $3)))"
            "   and ($4 = '' or target_type = $4)"
            "   and ($5 = '' or target_id = $5)"
            "   and ($6::bigint = 0 or at >= to_timestamp ($6::bigint / 1000.0))"
            "   and ($7::bigint = 0 or at < to_timestamp ($7::bigint / 1000.0))"
            " order by seq desc limit $8") == -1)
        return -1;
    return 0;
}

int
audit_append (pg_t *db, const audit_actor_t *actor, const char *action,
              const char *target_type, const char *target_id, const char *changes)
{
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = { now, actor->actor_id, actor->actor_role, action, target_type,
                              target_id, changes, actor->request_id, actor->ip };
    PGresult *result = pg_run (db, "audit_append", 9, params);
    if (!result)
        return -1;
    PQclear (result);
    return 0;
}

/* Reads one page of entries into reply; returns the row count, or -1. */
static int
s_list (pg_t *db, const Kaiin__Audit__ListRequest *query, int64_t before_seq, int limit,
        Kaiin__Audit__ListReply *reply)
{
    char before [24], from [24], to [24], fetch [12];
    snprintf (before, sizeof before, "%lld", (long long) before_seq);
    snprintf (from, sizeof from, "%lld", (long long) query->from_ms);
    snprintf (to, sizeof to, "%lld", (long long) query->to_ms);
    snprintf (fetch, sizeof fetch, "%d", limit + 1);
    const char *params [] = { before, query->actor_id, query->action, query->target_type,
                              query->target_id, from, to, fetch };
    PGresult *result = pg_run (db, "audit_list", 8, params);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    int shown = rows > limit? limit: rows;
    reply->entries = calloc (shown? shown: 1, sizeof *reply->entries);
    for (int row = 0; row < shown; row++) {
        Kaiin__Audit__Entry *entry = malloc (sizeof *entry);
        kaiin__audit__entry__init (entry);
        entry->seq = strtoll (PQgetvalue (result, row, 0), NULL, 10);
        entry->at_ms = strtoll (PQgetvalue (result, row, 1), NULL, 10);
        entry->actor_id = strdup (PQgetvalue (result, row, 2));
        entry->actor_role = strdup (PQgetvalue (result, row, 3));
        entry->action = strdup (PQgetvalue (result, row, 4));
        entry->target_type = strdup (PQgetvalue (result, row, 5));
        entry->target_id = strdup (PQgetvalue (result, row, 6));
        entry->changes_json = strdup (PQgetvalue (result, row, 7));
        entry->request_id = strdup (PQgetvalue (result, row, 8));
        entry->ip = strdup (PQgetvalue (result, row, 9));
        reply->entries [reply->n_entries++] = entry;
    }
    PQclear (result);
    return rows;
}

static void
s_clear (Kaiin__Audit__ListReply *reply)
{
    for (size_t i = 0; i < reply->n_entries; i++) {
        Kaiin__Audit__Entry *entry = reply->entries [i];
        free (entry->actor_id);
        free (entry->actor_role);
        free (entry->action);
        free (entry->target_type);
        free (entry->target_id);
        free (entry->changes_json);
        free (entry->request_id);
        free (entry->ip);
        free (entry);
    }
    free (reply->entries);
}

int
audit_api_list (svc_request_t *request, svc_reply_t *reply)
{
    const char *role = request->envelope->caller_role;
    if (strcmp (role, "owner") != 0 && strcmp (role, "admin") != 0)
        return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only owners and admins read the audit log");
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
        Kaiin__Audit__ListReply page = KAIIN__AUDIT__LIST_REPLY__INIT;
        int rows = s_list (request->db, query, before_seq, limit, &page);
        char cursor [24] = "";
        if (rows == -1)
            rc = svc_db_fail (reply, request->db);
        else {
            if (rows > limit && page.n_entries)
                snprintf (cursor, sizeof cursor, "a%" PRIx64, (uint64_t) page.entries [page.n_entries - 1]->seq);
            page.next_cursor = cursor;
            rc = svc_reply_with (reply, &page.base);
        }
        s_clear (&page);
    }
    protobuf_c_message_free_unpacked (&query->base, NULL);
    return rc;
}
