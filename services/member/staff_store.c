/* staff_store.c - staff accounts and API keys: their SQL */
#include "staff_store.h"
#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STAFF_COLUMNS \
    "id, email, name, role, disabled, version," \
    " (extract (epoch from created_at) * 1000)::bigint," \
    " (extract (epoch from updated_at) * 1000)::bigint," \
    " coalesce ((extract (epoch from last_login_at) * 1000)::bigint, 0), seq, password_hash"

#define KEY_COLUMNS \
    "id, name, role, prefix, created_by, (extract (epoch from created_at) * 1000)::bigint," \
    " coalesce ((extract (epoch from revoked_at) * 1000)::bigint, 0)"

#define AT(param) "to_timestamp (" param "::bigint / 1000.0)"

int
staff_store_prepare (pg_t *db)
{
    if (pg_prepare (db, "staff_insert",
            "insert into staff (email, name, role, password_hash, created_at, updated_at)"
            " values ($1, $2, $3, $4, " AT ("$5") ", " AT ("$5") ") returning " STAFF_COLUMNS) == -1
    ||  pg_prepare (db, "staff_get", "select " STAFF_COLUMNS " from staff where id = $1") == -1
    ||  pg_prepare (db, "staff_lock", "select " STAFF_COLUMNS " from staff where id = $1 for update") == -1
    ||  pg_prepare (db, "staff_by_email", "select " STAFF_COLUMNS " from staff where lower (email) = lower ($1)") == -1
    ||  pg_prepare (db, "staff_logged_in", "update staff set last_login_at = " AT ("$2") " where id = $1") == -1
    ||  pg_prepare (db, "staff_update",
            "update staff set"
            "  name = case when $2 then $3 else name end,"
            "  role = case when $4 then $5 else role end,"
            "  disabled = case when $6 then $7::boolean else disabled end,"
            "  password_hash = coalesce ($8, password_hash),"
            "  version = version + 1, updated_at = " AT ("$9")
            " where id = $1 returning " STAFF_COLUMNS) == -1
    ||  pg_prepare (db, "staff_owners", "select count (*) from staff where role = 'owner' and not disabled") == -1
    ||  pg_prepare (db, "staff_serialize", "select pg_advisory_xact_lock (hashtext ('kaiin.staff.update'))") == -1
    ||  pg_prepare (db, "staff_list", "select " STAFF_COLUMNS " from staff where seq > $1 order by seq limit $2") == -1
    ||  pg_prepare (db, "key_insert",
            "insert into api_keys (name, role, prefix, secret_sha256, created_by, created_at)"
            " values ($1, $2, $3, $4, $5, " AT ("$6") ") returning " KEY_COLUMNS) == -1
    ||  pg_prepare (db, "key_verify",
            "select " KEY_COLUMNS " from api_keys where secret_sha256 = $1 and revoked_at is null") == -1
    ||  pg_prepare (db, "key_revoke",
            "update api_keys set revoked_at = coalesce (revoked_at, " AT ("$2") ")"
            " where id = $1 returning " KEY_COLUMNS) == -1
    ||  pg_prepare (db, "key_list", "select " KEY_COLUMNS " from api_keys order by seq") == -1)
        return -1;
    return 0;
}

static int64_t
s_staff_from_row (PGresult *result, int row, Kaiin__Staff__Staff *staff)
{
    kaiin__staff__staff__init (staff);
    staff->id = strdup (PQgetvalue (result, row, 0));
    staff->email = strdup (PQgetvalue (result, row, 1));
    staff->name = strdup (PQgetvalue (result, row, 2));
    staff->role = strdup (PQgetvalue (result, row, 3));
    staff->disabled = PQgetvalue (result, row, 4) [0] == 't';
    staff->version = strtoll (PQgetvalue (result, row, 5), NULL, 10);
    staff->created_at_ms = strtoll (PQgetvalue (result, row, 6), NULL, 10);
    staff->updated_at_ms = strtoll (PQgetvalue (result, row, 7), NULL, 10);
    staff->last_login_at_ms = strtoll (PQgetvalue (result, row, 8), NULL, 10);
    return strtoll (PQgetvalue (result, row, 9), NULL, 10);
}

static void
s_key_from_row (PGresult *result, int row, Kaiin__Staff__ApiKey *key)
{
    kaiin__staff__api_key__init (key);
    key->id = strdup (PQgetvalue (result, row, 0));
    key->name = strdup (PQgetvalue (result, row, 1));
    key->role = strdup (PQgetvalue (result, row, 2));
    key->prefix = strdup (PQgetvalue (result, row, 3));
    key->created_by = strdup (PQgetvalue (result, row, 4));
    key->created_at_ms = strtoll (PQgetvalue (result, row, 5), NULL, 10);
    key->revoked_at_ms = strtoll (PQgetvalue (result, row, 6), NULL, 10);
}

void
staff_store_clear (Kaiin__Staff__Staff *staff)
{
    free (staff->id);
    free (staff->email);
    free (staff->name);
    free (staff->role);
    kaiin__staff__staff__init (staff);
}

void
staff_store_clear_key (Kaiin__Staff__ApiKey *key)
{
    free (key->id);
    free (key->name);
    free (key->role);
    free (key->prefix);
    free (key->created_by);
    kaiin__staff__api_key__init (key);
}

/* Runs a statement returning one row inside a transaction with an audit entry. */
static member_store_rc_t
s_audited (pg_t *db, const char *statement, int count, const char *const *params,
           const audit_actor_t *actor, const char *action, const char *target_type,
           const char *changes, PGresult **row)
{
    if (pg_begin (db) == -1)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_ERROR;
    PGresult *result = pg_run (db, statement, count, params);
    if (!result) {
        if (strcmp (pg_sqlstate (db), "23505") == 0)
            rc = MEMBER_STORE_DUPLICATE;
        goto fail;
    }
    if (PQntuples (result) == 0) {
        PQclear (result);
        rc = MEMBER_STORE_NOT_FOUND;
        goto fail;
    }
    if (audit_append (db, actor, action, target_type, PQgetvalue (result, 0, 0), changes) == -1
    ||  pg_commit (db) == -1) {
        PQclear (result);
        goto fail;
    }
    *row = result;
    return MEMBER_STORE_OK;
fail:
    pg_rollback (db);
    return rc;
}

member_store_rc_t
staff_store_create (pg_t *db, const Kaiin__Staff__CreateRequest *request, const char *password_hash,
                    const audit_actor_t *actor, Kaiin__Staff__Staff *staff)
{
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = { request->email, request->name, request->role, password_hash, now };
    json_t *changes = json_pack ("{s:[n,s], s:[n,s], s:[n,s]}", "email", request->email,
                                 "name", request->name, "role", request->role);
    char *text = json_dumps (changes, JSON_COMPACT);
    json_decref (changes);
    PGresult *row = NULL;
    member_store_rc_t rc = s_audited (db, "staff_insert", 5, params, actor, "staff.create",
                                      "staff", text, &row);
    free (text);
    if (rc == MEMBER_STORE_OK) {
        s_staff_from_row (row, 0, staff);
        PQclear (row);
    }
    return rc;
}

static member_store_rc_t
s_get_one (pg_t *db, const char *statement, const char *key, Kaiin__Staff__Staff *staff,
           char **password_hash)
{
    const char *params [] = { key };
    PGresult *result = pg_run (db, statement, 1, params);
    if (!result)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_NOT_FOUND;
    if (PQntuples (result) == 1) {
        s_staff_from_row (result, 0, staff);
        if (password_hash)
            *password_hash = strdup (PQgetvalue (result, 0, 10));
        rc = MEMBER_STORE_OK;
    }
    PQclear (result);
    return rc;
}

member_store_rc_t
staff_store_get (pg_t *db, const char *id, Kaiin__Staff__Staff *staff)
{
    return s_get_one (db, "staff_get", id, staff, NULL);
}

member_store_rc_t
staff_store_find_email (pg_t *db, const char *email, Kaiin__Staff__Staff *staff, char **password_hash)
{
    return s_get_one (db, "staff_by_email", email, staff, password_hash);
}

int
staff_store_record_login (pg_t *db, const audit_actor_t *actor, const char *staff_id,
                          const char *email, bool succeeded, const char *user_agent)
{
    json_t *details = json_pack ("{s:s, s:s}", "email", email, "user_agent", user_agent);
    char *text = json_dumps (details, JSON_COMPACT);
    json_decref (details);
    int rc = -1;
    if (pg_begin (db) == -1)
        goto done;
    if (succeeded) {
        char now [24];
        snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
        const char *params [] = { staff_id, now };
        PGresult *result = pg_run (db, "staff_logged_in", 2, params);
        if (!result)
            goto done;
        PQclear (result);
    }
    if (audit_append (db, actor, succeeded? "staff.login": "staff.login_failed", "staff",
                      staff_id, text) == -1)
        goto done;
    rc = pg_commit (db);
done:
    if (rc == -1)
        pg_rollback (db);
    free (text);
    return rc;
}

member_store_rc_t
staff_store_update (pg_t *db, const Kaiin__Staff__UpdateRequest *request, const char *password_hash,
                    const audit_actor_t *actor, Kaiin__Staff__Staff *staff)
{
    if (pg_begin (db) == -1)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_ERROR;
    Kaiin__Staff__Staff before = KAIIN__STAFF__STAFF__INIT;
    /* Staff changes are rare: taking them one at a time makes "an enabled owner remains"
       hold under concurrent demotions. */
    PGresult *result = pg_run (db, "staff_serialize", 0, NULL);
    if (!result)
        goto fail;
    PQclear (result);
    const char *key [] = { request->id };
    if (!(result = pg_run (db, "staff_lock", 1, key)))
        goto fail;
    rc = MEMBER_STORE_NOT_FOUND;
    if (PQntuples (result) == 0)
        goto fail;
    s_staff_from_row (result, 0, &before);
    PQclear (result);
    result = NULL;
    rc = MEMBER_STORE_STALE;
    if (request->if_version && before.version != request->if_version)
        goto fail;
    bool demoting = SVC_MASKED (request, "role") && strcmp (request->role, "owner") != 0;
    bool disabling = SVC_MASKED (request, "disabled") && request->disabled;
    if (strcmp (before.role, "owner") == 0 && !before.disabled && (demoting || disabling)) {
        rc = MEMBER_STORE_ERROR;
        int owners = staff_store_owner_count (db);
        if (owners == -1)
            goto fail;
        rc = MEMBER_STORE_LAST_OWNER;
        if (owners <= 1)
            goto fail;
    }
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = {
        request->id,
        SVC_MASKED (request, "name")? "t": "f", request->name,
        SVC_MASKED (request, "role")? "t": "f", request->role,
        SVC_MASKED (request, "disabled")? "t": "f", request->disabled? "t": "f",
        password_hash, now
    };
    rc = MEMBER_STORE_ERROR;
    if (!(result = pg_run (db, "staff_update", 9, params)))
        goto fail;
    s_staff_from_row (result, 0, staff);
    PQclear (result);
    result = NULL;
    json_t *changes = json_object ();
    if (strcmp (before.name, staff->name))
        json_object_set_new (changes, "name", json_pack ("[s, s]", before.name, staff->name));
    if (strcmp (before.role, staff->role))
        json_object_set_new (changes, "role", json_pack ("[s, s]", before.role, staff->role));
    if (before.disabled != staff->disabled)
        json_object_set_new (changes, "disabled", json_pack ("[b, b]", before.disabled, staff->disabled));
    if (password_hash)
        json_object_set_new (changes, "password", json_pack ("[s, s]", "(hidden)", "(changed)"));
    char *text = json_dumps (changes, JSON_COMPACT);
    json_decref (changes);
    int appended = audit_append (db, actor, "staff.update", "staff", staff->id, text);
    free (text);
    if (appended == -1 || pg_commit (db) == -1) {
        staff_store_clear (staff);
        goto fail;
    }
    staff_store_clear (&before);
    return MEMBER_STORE_OK;
fail:
    PQclear (result);
    staff_store_clear (&before);
    pg_rollback (db);
    return rc;
}

int
staff_store_owner_count (pg_t *db)
{
    PGresult *result = pg_run (db, "staff_owners", 0, NULL);
    if (!result)
        return -1;
    int count = atoi (PQgetvalue (result, 0, 0));
    PQclear (result);
    return count;
}

member_store_rc_t
staff_store_list (pg_t *db, int64_t after_seq, int limit, Kaiin__Staff__ListReply *reply,
                  int64_t *last_seq, int *more)
{
    char after [24], fetch [12];
    snprintf (after, sizeof after, "%lld", (long long) after_seq);
    snprintf (fetch, sizeof fetch, "%d", limit + 1);
    const char *params [] = { after, fetch };
    PGresult *result = pg_run (db, "staff_list", 2, params);
    if (!result)
        return MEMBER_STORE_ERROR;
    int rows = PQntuples (result);
    *more = rows > limit;
    if (*more)
        rows = limit;
    reply->staff = calloc (rows? rows: 1, sizeof *reply->staff);
    assert (reply->staff);
    *last_seq = 0;
    for (int row = 0; row < rows; row++) {
        reply->staff [row] = malloc (sizeof (Kaiin__Staff__Staff));
        assert (reply->staff [row]);
        *last_seq = s_staff_from_row (result, row, reply->staff [row]);
        reply->n_staff++;
    }
    PQclear (result);
    return MEMBER_STORE_OK;
}

member_store_rc_t
staff_store_key_create (pg_t *db, const Kaiin__Staff__CreateApiKeyRequest *request,
                        const audit_actor_t *actor, Kaiin__Staff__ApiKey *key)
{
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = { request->name, request->role, request->prefix,
                              request->secret_sha256, actor->actor_id, now };
    json_t *changes = json_pack ("{s:[n,s], s:[n,s]}", "name", request->name, "role", request->role);
    char *text = json_dumps (changes, JSON_COMPACT);
    json_decref (changes);
    PGresult *row = NULL;
    member_store_rc_t rc = s_audited (db, "key_insert", 6, params, actor, "api_key.create",
                                      "api_key", text, &row);
    free (text);
    if (rc == MEMBER_STORE_OK) {
        s_key_from_row (row, 0, key);
        PQclear (row);
    }
    return rc;
}

member_store_rc_t
staff_store_key_verify (pg_t *db, const char *secret_sha256, Kaiin__Staff__ApiKey *key)
{
    const char *params [] = { secret_sha256 };
    PGresult *result = pg_run (db, "key_verify", 1, params);
    if (!result)
        return MEMBER_STORE_ERROR;
    member_store_rc_t rc = MEMBER_STORE_NOT_FOUND;
    if (PQntuples (result) == 1) {
        s_key_from_row (result, 0, key);
        rc = MEMBER_STORE_OK;
    }
    PQclear (result);
    return rc;
}

member_store_rc_t
staff_store_key_revoke (pg_t *db, const char *id, const audit_actor_t *actor, Kaiin__Staff__ApiKey *key)
{
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = { id, now };
    PGresult *row = NULL;
    member_store_rc_t rc = s_audited (db, "key_revoke", 2, params, actor, "api_key.revoke",
                                      "api_key", NULL, &row);
    if (rc == MEMBER_STORE_OK) {
        s_key_from_row (row, 0, key);
        PQclear (row);
    }
    return rc;
}

member_store_rc_t
staff_store_key_list (pg_t *db, Kaiin__Staff__ListApiKeysReply *reply)
{
    PGresult *result = pg_run (db, "key_list", 0, NULL);
    if (!result)
        return MEMBER_STORE_ERROR;
    int rows = PQntuples (result);
    reply->keys = calloc (rows? rows: 1, sizeof *reply->keys);
    assert (reply->keys);
    for (int row = 0; row < rows; row++) {
        reply->keys [row] = malloc (sizeof (Kaiin__Staff__ApiKey));
        assert (reply->keys [row]);
        s_key_from_row (result, row, reply->keys [row]);
        reply->n_keys++;
    }
    PQclear (result);
    return MEMBER_STORE_OK;
}
