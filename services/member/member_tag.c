/* member_tag.c - a member's tags: added and removed together, one event a tag that changed;
   the same change for many members at once */
#include "member_tag.h"
#include "member_check.h"
#include "member_crypt.h"
#include "member_record.h"
#include "outbox.h"
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
member_tag_prepare (pg_t *db)
{
    pg_prepare (db, "member_touch",
            "update members set version = version + 1, updated_at = " AT ("$2")
            " where id = $1 returning " MEMBER_COLUMNS);
    pg_prepare (db, "member_tag_add",
            "insert into member_tags (member_seq, tag, added_at) values ($1, $2, " AT ("$3") ")"
            " on conflict do nothing");
    pg_prepare (db, "member_tag_remove",
            "delete from member_tags where member_seq = $1 and tag = $2");
    pg_prepare (db, "member_tag_count",
            "select count (*) from member_tags where member_seq = $1");
    /* in id order: two requests naming the same members queue instead of deadlocking */
    pg_prepare (db, "member_tag_lock_many",
            "select id, version from members where id = any ($1::uuid []) order by id for update");
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
    Kaiin__Member__Member public = member_crypt_public (member);
    event.member_id = member->id;
    event.tag = (char *) tag;
    event.member = &public;
    return outbox_append (db, type, member->id, &event.base, now_ms);
}

member_rc_t
member_tag_change (pg_t *db, const Kaiin__Member__TagRequest *request, const audit_actor_t *actor,
                   Kaiin__Member__Member **member)
{
    if (pg_begin (db) == -1)
        return MEMBER_ERROR;
    Kaiin__Member__Member *before = NULL;
    *member = NULL;
    bool *added = calloc (request->n_add + 1, sizeof (bool));
    bool *removed = calloc (request->n_remove + 1, sizeof (bool));
    assert (added && removed);
    char seq [24], now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    int64_t position;
    PGresult *result = NULL;
    member_rc_t rc = member_record_lock (db, request->id, &before, &position);
    if (rc != MEMBER_OK)
        goto fail;
    snprintf (seq, sizeof seq, "%lld", (long long) position);
    rc = MEMBER_STALE;
    if (request->if_version && before->version != request->if_version)
        goto fail;
    rc = MEMBER_ERROR;
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
        if (pg_commit (db) == -1)
            goto fail;
        *member = before;
        free (added);
        free (removed);
        return MEMBER_OK;
    }
    const char *seq_param [] = { seq };
    if (!(result = pg_run (db, "member_tag_count", 1, seq_param)))
        goto fail;
    rc = MEMBER_TOO_MANY_TAGS;
    if (atoi (PQgetvalue (result, 0, 0)) > MEMBER_TAGS_MAX)
        goto fail;
    rc = MEMBER_ERROR;
    PQclear (result);
    result = NULL;
    const char *touch [] = { request->id, now };
    if (member_one (db, "member_touch", 2, touch, &result) != MEMBER_OK)
        goto fail;
    *member = member_record_of_row (result, 0);
    PQclear (result);
    result = NULL;
    for (size_t i = 0; i < request->n_remove; i++)
        if (removed [i] && s_tag_event (db, "member.untagged", request->remove [i], *member, actor->now_ms) == -1)
            goto fail;
    for (size_t i = 0; i < request->n_add; i++)
        if (added [i] && s_tag_event (db, "member.tagged", request->add [i], *member, actor->now_ms) == -1)
            goto fail;
    char *audit_changes = member_record_changes (before, *member);
    int appended = audit_append (db, actor, "member.tagged", "member", (*member)->id, audit_changes);
    free (audit_changes);
    if (appended == -1 || pg_commit (db) == -1)
        goto fail;
    protobuf_c_message_free_unpacked (&before->base, NULL);
    free (added);
    free (removed);
    return MEMBER_OK;
fail:
    PQclear (result);
    if (before)
        protobuf_c_message_free_unpacked (&before->base, NULL);
    if (*member)
        protobuf_c_message_free_unpacked (&(*member)->base, NULL);
    *member = NULL;
    free (added);
    free (removed);
    pg_rollback (db);
    return rc;
}

/* The rules of a tag change, for one member or many: each list's tags, at least one tag, none
   both added and removed. */
static void
s_check_change (svc_reply_t *reply, char *const *add, size_t n_add, char *const *remove,
                size_t n_remove)
{
    member_check_tags (reply, "add", add, n_add, MEMBER_TAGS_MAX);
    member_check_tags (reply, "remove", remove, n_remove, MEMBER_TAGS_MAX);
    if (n_add + n_remove == 0)
        svc_field_error (reply, "add", "add or remove must name a tag");
    for (size_t i = 0; i < n_add; i++)
        for (size_t j = 0; j < n_remove; j++)
            if (strcmp (add [i], remove [j]) == 0)
                svc_field_error (reply, "remove", "the tag '%s' is both added and removed", add [i]);
}

int
member_api_tag (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__TagRequest *tag = (Kaiin__Member__TagRequest *)
        svc_unpack (request, &kaiin__member__tag_request__descriptor, reply);
    if (!tag)
        return -1;
    s_check_change (reply, tag->add, tag->n_add, tag->remove, tag->n_remove);
    int rc = -1;
    if (member_id_ok (reply, tag->id, "no such member")) {
        Kaiin__Member__Member *member;
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        member_rc_t changed = member_tag_change (request->db, tag, &actor, &member);
        rc = member_record_answer (request, reply, changed, member);
    }
    protobuf_c_message_free_unpacked (&tag->base, NULL);
    return rc;
}

/* Adds a field error unless ids are 1 to MEMBER_TAG_MANY_MAX member ids (UUIDs), none twice
   (in either letter case): "member_ids" for the list, "member_ids[i]" for an id. */
static void
s_check_ids (svc_reply_t *reply, char *const *ids, size_t count)
{
    if (count == 0)
        svc_field_error (reply, "member_ids", "must not be empty");
    if (count > MEMBER_TAG_MANY_MAX) {
        svc_field_error (reply, "member_ids", "may name at most %d members", MEMBER_TAG_MANY_MAX);
        return;
    }
    char field [32];
    for (size_t i = 0; i < count; i++) {
        snprintf (field, sizeof field, "member_ids[%zu]", i);
        if (!member_uuid (ids [i])) {
            svc_field_error (reply, field, "must be a member id (a UUID)");
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (strcasecmp (ids [i], ids [j]) == 0) {
                svc_field_error (reply, field, "repeats member_ids[%zu]", j);
                break;
            }
    }
}

member_rc_t
member_tag_change_many (pg_t *db, const Kaiin__Member__TagManyRequest *request,
                        const audit_actor_t *actor, Kaiin__Member__TagManyReply *counts,
                        size_t *over)
{
    assert (request->n_member_ids > 0 && request->n_member_ids <= MEMBER_TAG_MANY_MAX);
    bool *found = calloc (request->n_member_ids, sizeof (bool));
    assert (found);
    pg_buffer_t array = { NULL, 0, 0 };
    for (size_t i = 0; i < request->n_member_ids; i++) {
        pg_buffer_append (&array, i? ",": "{", 1);
        pg_buffer_append (&array, request->member_ids [i], strlen (request->member_ids [i]));
    }
    pg_buffer_append (&array, "}", 2);          /* with the NUL */
    member_rc_t rc = MEMBER_ERROR;
    PGresult *locked = NULL;
    const char *params [] = { array.text };
    if (pg_begin (db) == -1)
        goto fail;                              /* (a rollback then does nothing) */
    outbox_defer (true);                        /* the events of them all in one statement */
    if (!(locked = pg_run (db, "member_tag_lock_many", 1, params)))
        goto fail;
    counts->matched = PQntuples (locked);
    counts->changed = 0;
    for (int row = 0; row < PQntuples (locked); row++) {
        /* each member as member.Tag changes one, inside this transaction */
        Kaiin__Member__TagRequest tag = KAIIN__MEMBER__TAG_REQUEST__INIT;
        tag.id = PQgetvalue (locked, row, 0);
        tag.add = request->add;
        tag.n_add = request->n_add;
        tag.remove = request->remove;
        tag.n_remove = request->n_remove;
        Kaiin__Member__Member *member;
        if ((rc = member_tag_change (db, &tag, actor, &member)) != MEMBER_OK) {
            for (*over = 0; strcasecmp (request->member_ids [*over], tag.id) != 0; (*over)++)
                assert (*over + 1 < request->n_member_ids);
            goto fail;
        }
        counts->changed += member->version != atoll (PQgetvalue (locked, row, 1));
        protobuf_c_message_free_unpacked (&member->base, NULL);
        for (size_t i = 0; i < request->n_member_ids; i++)
            found [i] |= strcasecmp (request->member_ids [i], tag.id) == 0;
    }
    rc = MEMBER_ERROR;
    if (outbox_flush (db) == -1)
        goto fail;
    outbox_defer (false);
    if (pg_commit (db) == -1)
        goto fail;
    /* the ids the caller gave that no member has, borrowed from the request */
    counts->not_found = calloc (request->n_member_ids, sizeof (char *));
    assert (counts->not_found);
    for (size_t i = 0; i < request->n_member_ids; i++)
        if (!found [i])
            counts->not_found [counts->n_not_found++] = request->member_ids [i];
    PQclear (locked);
    free (array.text);
    free (found);
    return MEMBER_OK;
fail:
    outbox_defer (false);
    PQclear (locked);
    free (array.text);
    free (found);
    pg_rollback (db);
    return rc;
}

int
member_api_tag_many (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__TagManyRequest *many = (Kaiin__Member__TagManyRequest *)
        svc_unpack (request, &kaiin__member__tag_many_request__descriptor, reply);
    if (!many)
        return -1;
    s_check_change (reply, many->add, many->n_add, many->remove, many->n_remove);
    s_check_ids (reply, many->member_ids, many->n_member_ids);
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        Kaiin__Member__TagManyReply counts = KAIIN__MEMBER__TAG_MANY_REPLY__INIT;
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        size_t over = 0;
        member_rc_t changed = member_tag_change_many (request->db, many, &actor, &counts, &over);
        if (changed == MEMBER_OK)
            rc = svc_reply_with (reply, &counts.base);
        else
        if (changed == MEMBER_TOO_MANY_TAGS) {
            char field [32];
            snprintf (field, sizeof field, "member_ids[%zu]", over);
            svc_field_error (reply, field, "this member would have more than %d tags", MEMBER_TAGS_MAX);
        }
        else
            svc_db_fail (reply, request->db);
        free (counts.not_found);
    }
    protobuf_c_message_free_unpacked (&many->base, NULL);
    return rc;
}
