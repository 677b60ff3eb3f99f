/* audit.c - the append-only audit log: who did what to which record, before and after */
#include "audit.h"
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
    return pg_prepare (db, "audit_append",
        "insert into audit_log (at, actor_id, actor_role, action, target_type, target_id,"
        " changes, request_id, ip) values (to_timestamp ($1::bigint / 1000.0), $2, $3, $4, $5, $6,"
        " coalesce ($7::jsonb, '{}'), $8, $9)");
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

static void
s_diff (json_t *changes, const char *field, const char *before, const char *after)
{
    if (before && strcmp (before, after) == 0)
        return;
    json_object_set_new (changes, field, json_pack ("[s?, s]", before, after));
}

char *
audit_member_changes (const Kaiin__Member__Member *before, const Kaiin__Member__Member *after)
{
    json_t *changes = json_object ();
    s_diff (changes, "email", before? before->email: NULL, after->email);
    s_diff (changes, "name", before? before->name: NULL, after->name);
    s_diff (changes, "name_kana", before? before->name_kana: NULL, after->name_kana);
    s_diff (changes, "phone", before? before->phone: NULL, after->phone);
    s_diff (changes, "status", before? before->status: NULL, after->status);
    s_diff (changes, "withdrawn_reason", before? before->withdrawn_reason: NULL, after->withdrawn_reason);
    char *text = json_dumps (changes, JSON_COMPACT);
    json_decref (changes);
    return text;
}
