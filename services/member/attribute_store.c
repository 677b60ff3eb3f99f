/* attribute_store.c - what the business defines for its member record: custom attributes'
   definitions and member ranks (tables member_attributes and member_ranks) */
#include "attribute_store.h"
#include <assert.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
attribute_store_prepare (pg_t *db)
{
    if (pg_prepare (db, "attribute_list",
            "select key, label, type, array_to_json (options)::text, required,"
            " (extract (epoch from created_at) * 1000)::bigint from member_attributes order by seq") == -1
    ||  pg_prepare (db, "attribute_insert",
            "insert into member_attributes (key, label, type, options, required, created_at)"
            " select $1, $2, $3, coalesce (array_agg (value order by ordinality), '{}'), $5::boolean,"
            "   to_timestamp ($6::bigint / 1000.0)"
            " from json_array_elements_text ($4::json) with ordinality") == -1
    ||  pg_prepare (db, "rank_list",
            "select code, label, (extract (epoch from created_at) * 1000)::bigint"
            " from member_ranks order by seq") == -1
    ||  pg_prepare (db, "rank_insert",
            "insert into member_ranks (code, label, created_at)"
            " values ($1, $2, to_timestamp ($3::bigint / 1000.0))") == -1)
        return -1;
    return 0;
}

member_store_rc_t
attribute_store_list (pg_t *db, Kaiin__Member__AttributeListReply *reply)
{
    PGresult *result = pg_run (db, "attribute_list", 0, NULL);
    if (!result)
        return MEMBER_STORE_ERROR;
    int rows = PQntuples (result);
    reply->attributes = calloc (rows? rows: 1, sizeof *reply->attributes);
    assert (reply->attributes);
    for (int row = 0; row < rows; row++) {
        Kaiin__Member__AttributeDefinition *definition = malloc (sizeof *definition);
        assert (definition);
        kaiin__member__attribute_definition__init (definition);
        definition->key = strdup (PQgetvalue (result, row, 0));
        definition->label = strdup (PQgetvalue (result, row, 1));
        definition->type = strdup (PQgetvalue (result, row, 2));
        json_t *options = json_loads (PQgetvalue (result, row, 3), 0, NULL);
        size_t count = json_array_size (options);
        definition->options = calloc (count? count: 1, sizeof (char *));
        assert (definition->options);
        for (size_t i = 0; i < count; i++)
            definition->options [definition->n_options++] =
                strdup (json_string_value (json_array_get (options, i)));
        json_decref (options);
        definition->required = strcmp (PQgetvalue (result, row, 4), "t") == 0;
        definition->created_at_ms = strtoll (PQgetvalue (result, row, 5), NULL, 10);
        reply->attributes [reply->n_attributes++] = definition;
    }
    PQclear (result);
    return MEMBER_STORE_OK;
}

void
attribute_store_clear_list (Kaiin__Member__AttributeListReply *reply)
{
    for (size_t i = 0; i < reply->n_attributes; i++) {
        Kaiin__Member__AttributeDefinition *definition = reply->attributes [i];
        free (definition->key);
        free (definition->label);
        free (definition->type);
        for (size_t j = 0; j < definition->n_options; j++)
            free (definition->options [j]);
        free (definition->options);
        free (definition);
    }
    free (reply->attributes);
    reply->attributes = NULL;
    reply->n_attributes = 0;
}

/* Runs one insert and its audit entry in a transaction. */
static member_store_rc_t
s_insert_audited (pg_t *db, const char *statement, int count, const char *const *params,
                  const audit_actor_t *actor, const char *action, const char *target_type,
                  const char *target_id, const char *changes)
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
    PQclear (result);
    if (audit_append (db, actor, action, target_type, target_id, changes) == -1
    ||  pg_commit (db) == -1)
        goto fail;
    return MEMBER_STORE_OK;
fail:
    pg_rollback (db);
    return rc;
}

member_store_rc_t
attribute_store_define (pg_t *db, Kaiin__Member__AttributeDefinition *definition,
                        const audit_actor_t *actor)
{
    json_t *options = json_array ();
    for (size_t i = 0; i < definition->n_options; i++)
        json_array_append_new (options, json_string (definition->options [i]));
    char *options_text = json_dumps (options, JSON_COMPACT);
    json_t *changes = json_pack ("{s:[n,s], s:[n,s], s:[n,s], s:[n,O], s:[n,b]}",
                                 "key", definition->key, "label", definition->label,
                                 "type", definition->type, "options", options,
                                 "required", definition->required);
    char *changes_text = json_dumps (changes, JSON_COMPACT);
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = { definition->key, definition->label, definition->type, options_text,
                              definition->required? "t": "f", now };
    member_store_rc_t rc = s_insert_audited (db, "attribute_insert", 6, params, actor,
                                             "attribute.define", "member_attribute",
                                             definition->key, changes_text);
    definition->created_at_ms = actor->now_ms;
    free (options_text);
    free (changes_text);
    json_decref (changes);
    json_decref (options);
    return rc;
}

member_store_rc_t
attribute_store_ranks (pg_t *db, Kaiin__Member__RankListReply *reply)
{
    PGresult *result = pg_run (db, "rank_list", 0, NULL);
    if (!result)
        return MEMBER_STORE_ERROR;
    int rows = PQntuples (result);
    reply->ranks = calloc (rows? rows: 1, sizeof *reply->ranks);
    assert (reply->ranks);
    for (int row = 0; row < rows; row++) {
        Kaiin__Member__Rank *rank = malloc (sizeof *rank);
        assert (rank);
        kaiin__member__rank__init (rank);
        rank->code = strdup (PQgetvalue (result, row, 0));
        rank->label = strdup (PQgetvalue (result, row, 1));
        rank->created_at_ms = strtoll (PQgetvalue (result, row, 2), NULL, 10);
        reply->ranks [reply->n_ranks++] = rank;
    }
    PQclear (result);
    return MEMBER_STORE_OK;
}

void
attribute_store_clear_ranks (Kaiin__Member__RankListReply *reply)
{
    for (size_t i = 0; i < reply->n_ranks; i++) {
        free (reply->ranks [i]->code);
        free (reply->ranks [i]->label);
        free (reply->ranks [i]);
    }
    free (reply->ranks);
    reply->ranks = NULL;
    reply->n_ranks = 0;
}

member_store_rc_t
attribute_store_add_rank (pg_t *db, Kaiin__Member__Rank *rank, const audit_actor_t *actor)
{
    json_t *changes = json_pack ("{s:[n,s], s:[n,s]}", "code", rank->code, "label", rank->label);
    char *changes_text = json_dumps (changes, JSON_COMPACT);
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) actor->now_ms);
    const char *params [] = { rank->code, rank->label, now };
    member_store_rc_t rc = s_insert_audited (db, "rank_insert", 3, params, actor, "rank.create",
                                             "member_rank", rank->code, changes_text);
    rank->created_at_ms = actor->now_ms;
    free (changes_text);
    json_decref (changes);
    return rc;
}
