/* attribute.c - what the business defines for its member record: custom attributes (table
   member_attributes) and ranks (member_ranks), their methods, and the checks of a member's
   attribute values against the definitions */
#include "attribute.h"
#include "audit.h"
#include "member_text.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ATTRIBUTE_LABEL_MAX   100
#define ATTRIBUTE_TEXT_MAX    500
#define ATTRIBUTE_OPTIONS_MAX 100
#define ATTRIBUTES_MAX        100

static const char *const s_types [] = { "string", "number", "date", "boolean", "select", NULL };

void
attribute_prepare (pg_t *db)
{
    pg_prepare (db, "attribute_list",
            "select key, label, type, options, required, " MS ("created_at") " as created_at_ms"
            " from member_attributes order by seq");
    pg_prepare (db, "attribute_insert",
            "insert into member_attributes (key, label, type, options, required, created_at)"
            " select $1, $2, $3, coalesce (array_agg (value order by ordinality), '{}'), $5::boolean,"
            "   " AT ("$6") " from json_array_elements_text ($4::json) with ordinality");
    pg_prepare (db, "rank_list",
            "select code, label, " MS ("created_at") " as created_at_ms from member_ranks order by seq");
    pg_prepare (db, "rank_insert",
            "insert into member_ranks (code, label, created_at) values ($1, $2, " AT ("$3") ")");
    pg_prepare (db, "rank_exists", "select 1 from member_ranks where code = $1");
}

Kaiin__Member__AttributeListReply *
attribute_definitions (pg_t *db)
{
    PGresult *result = pg_run (db, "attribute_list", 0, NULL);
    if (!result)
        return NULL;
    ProtobufCMessage *list = member_message_new (&kaiin__member__attribute_list_reply__descriptor);
    member_rows_append (list, "attributes", result, PQntuples (result));
    PQclear (result);
    return (Kaiin__Member__AttributeListReply *) list;
}

Kaiin__Member__RankListReply *
attribute_ranks (pg_t *db)
{
    PGresult *result = pg_run (db, "rank_list", 0, NULL);
    if (!result)
        return NULL;
    ProtobufCMessage *list = member_message_new (&kaiin__member__rank_list_reply__descriptor);
    member_rows_append (list, "ranks", result, PQntuples (result));
    PQclear (result);
    return (Kaiin__Member__RankListReply *) list;
}

int
attribute_rank_exists (pg_t *db, const char *code)
{
    const char *params [] = { code };
    PGresult *result = pg_run (db, "rank_exists", 1, params);
    if (!result)
        return -1;
    int exists = PQntuples (result) > 0;
    PQclear (result);
    return exists;
}

/* A key or code: a lower-case letter, then up to max - 1 lower-case letters, digits or _. */
static bool
s_attr_is_key (const char *text, size_t max)
{
    size_t length = strlen (text);
    if (length < 1 || length > max || text [0] < 'a' || text [0] > 'z')
        return false;
    for (const char *c = text; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return true;
}

static void
s_attr_check_label (svc_reply_t *reply, const char *label)
{
    long length = member_text_length (label, false);
    if (length < 1 || length > ATTRIBUTE_LABEL_MAX)
        svc_field_error (reply, "label", "must be 1 to %d characters without control characters",
                         ATTRIBUTE_LABEL_MAX);
}

/* Answers list, a message attribute_definitions or attribute_ranks made (NULL: the database
   failed), and frees it. */
static int
s_attr_reply_list (svc_request_t *request, svc_reply_t *reply, void *list)
{
    if (!list)
        return svc_db_fail (reply, request->db);
    svc_reply_with (reply, list);
    protobuf_c_message_free_unpacked (list, NULL);
    return 0;
}

int
attribute_api_list (svc_request_t *request, svc_reply_t *reply)
{
    return s_attr_reply_list (request, reply, attribute_definitions (request->db));
}

/* Answers what was added, or why not: ALREADY_EXISTS (exists, a sentence of the table of
   messages) naming field, or the database's error. */
static int
s_attr_answer (svc_request_t *request, svc_reply_t *reply, member_rc_t stored,
               const ProtobufCMessage *added, const char *exists, const char *field)
{
    if (stored == MEMBER_OK)
        return svc_reply_with (reply, added);
    if (stored != MEMBER_DUPLICATE)
        return svc_db_fail (reply, request->db);
    svc_fail_say (reply, KAIIN__STATUS__ALREADY_EXISTS, exists);
    svc_field_error (reply, field, "is already defined");
    return -1;
}

/* Adds a definition with its audit entry, in one transaction. */
static member_rc_t
s_attr_define (pg_t *db, const Kaiin__Member__AttributeDefinition *definition,
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
    const char *params [] = { definition->key, definition->label, definition->type, options_text,
                              definition->required? "t": "f", NUM (now, actor->now_ms) };
    member_rc_t rc = audit_run (db, "attribute_insert", 6, params, actor, "attribute.define",
                                "member_attribute", definition->key, changes_text, NULL);
    free (options_text);
    free (changes_text);
    json_decref (changes);
    json_decref (options);
    return rc;
}

int
attribute_api_define (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__AttributeDefinition *definition = (Kaiin__Member__AttributeDefinition *)
        svc_unpack (request, &kaiin__member__attribute_definition__descriptor, reply);
    if (!definition)
        return -1;
    if (!s_attr_is_key (definition->key, 40))
        svc_field_error (reply, "key", "must be a lower-case letter then up to 39 lower-case letters, digits or _");
    s_attr_check_label (reply, definition->label);
    const char *const *type = s_types;
    while (*type && strcmp (*type, definition->type) != 0)
        type++;
    if (!*type)
        svc_field_error (reply, "type", "must be one of string, number, date, boolean, select");
    bool select = strcmp (definition->type, "select") == 0;
    if (select && (definition->n_options < 1 || definition->n_options > ATTRIBUTE_OPTIONS_MAX))
        svc_field_error (reply, "options", "a select needs 1 to %d options", ATTRIBUTE_OPTIONS_MAX);
    if (!select && definition->n_options)
        svc_field_error (reply, "options", "only a select has options");
    for (size_t i = 0; i < definition->n_options; i++) {
        long length = member_text_length (definition->options [i], false);
        bool repeated = false;
        for (size_t j = 0; j < i; j++)
            repeated |= strcmp (definition->options [j], definition->options [i]) == 0;
        if (length < 1 || length > ATTRIBUTE_LABEL_MAX || repeated) {
            svc_field_error (reply, "options", "each option must be 1 to %d characters, and given once",
                             ATTRIBUTE_LABEL_MAX);
            break;
        }
    }
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        Kaiin__Member__AttributeListReply *existing = attribute_definitions (request->db);
        member_rc_t stored = existing? MEMBER_OK: MEMBER_ERROR;
        size_t count = existing? existing->n_attributes: 0;
        if (existing)
            protobuf_c_message_free_unpacked (&existing->base, NULL);
        if (stored == MEMBER_OK && count >= ATTRIBUTES_MAX)
            rc = svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                           "at most %d attributes can be defined", ATTRIBUTES_MAX);
        else {
            audit_actor_t actor = audit_actor_of (request, member_now (request));
            if (stored == MEMBER_OK)
                stored = s_attr_define (request->db, definition, &actor);
            definition->created_at_ms = actor.now_ms;
            rc = s_attr_answer (request, reply, stored, &definition->base,
                                "an attribute with this key exists", "key");
        }
    }
    protobuf_c_message_free_unpacked (&definition->base, NULL);
    return rc;
}

int
attribute_api_ranks (svc_request_t *request, svc_reply_t *reply)
{
    return s_attr_reply_list (request, reply, attribute_ranks (request->db));
}

int
attribute_api_add_rank (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__Rank *rank = (Kaiin__Member__Rank *)
        svc_unpack (request, &kaiin__member__rank__descriptor, reply);
    if (!rank)
        return -1;
    if (!s_attr_is_key (rank->code, 32))
        svc_field_error (reply, "code", "must be a lower-case letter then up to 31 lower-case letters, digits or _");
    s_attr_check_label (reply, rank->label);
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        json_t *changes = json_pack ("{s:[n,s], s:[n,s]}", "code", rank->code, "label", rank->label);
        char *changes_text = json_dumps (changes, JSON_COMPACT);
        json_decref (changes);
        char now [24];
        const char *params [] = { rank->code, rank->label, NUM (now, actor.now_ms) };
        member_rc_t stored = audit_run (request->db, "rank_insert", 3, params, &actor, "rank.create",
                                        "member_rank", rank->code, changes_text, NULL);
        free (changes_text);
        rank->created_at_ms = actor.now_ms;
        rc = s_attr_answer (request, reply, stored, &rank->base, "a rank with this code exists", "code");
    }
    protobuf_c_message_free_unpacked (&rank->base, NULL);
    return rc;
}

static const Kaiin__Member__AttributeDefinition *
s_attr_find (const Kaiin__Member__AttributeListReply *definitions, const char *key)
{
    for (size_t i = 0; i < definitions->n_attributes; i++)
        if (strcmp (definitions->attributes [i]->key, key) == 0)
            return definitions->attributes [i];
    return NULL;
}

static bool
s_attr_is_option (const Kaiin__Member__AttributeDefinition *definition, const char *value)
{
    for (size_t i = 0; i < definition->n_options; i++)
        if (strcmp (definition->options [i], value) == 0)
            return true;
    return false;
}

/* Checks one value against its definition; returns NULL or what is wrong (static, a field
   reason of the table of messages). */
static const char *
s_attr_value_problem (const Kaiin__Member__AttributeDefinition *definition, json_t *value)
{
    const char *type = definition->type;
    int64_t days;
    if (strcmp (type, "number") == 0)
        return json_is_number (value)? NULL: "must be a number";
    if (strcmp (type, "boolean") == 0)
        return json_is_boolean (value)? NULL: "must be true or false";
    if (!json_is_string (value))
        return strcmp (type, "date") == 0? "must be a date YYYY-MM-DD": "must be a string";
    const char *text = json_string_value (value);
    if (strlen (text) != json_string_length (value))
        return "must not contain NUL characters";
    if (strcmp (type, "date") == 0)
        return member_text_date (text, &days) == 0? NULL: "must be a date YYYY-MM-DD";
    if (strcmp (type, "select") == 0)
        return s_attr_is_option (definition, text)? NULL: "must be one of the attribute's options";
    long length = member_text_length (text, true);
    if (length < 0)
        return "must not contain control characters";
    return length <= ATTRIBUTE_TEXT_MAX? NULL: "must be at most 500 characters";
}

void
attribute_check (svc_reply_t *reply, const Kaiin__Member__AttributeListReply *definitions,
                 json_t *values, bool creating)
{
    const char *key;
    json_t *value;
    json_object_foreach (values, key, value) {
        char field [64];
        snprintf (field, sizeof field, "attributes.%s", key);
        const Kaiin__Member__AttributeDefinition *definition = s_attr_find (definitions, key);
        const char *problem = NULL;
        if (!definition)
            problem = "is not a defined attribute";
        else
        if (json_is_null (value))
            problem = definition->required? "is required and cannot be removed": NULL;
        else
            problem = s_attr_value_problem (definition, value);
        if (problem)
            svc_field_error_say (reply, field, problem);
    }
    for (size_t i = 0; creating && i < definitions->n_attributes; i++) {
        const Kaiin__Member__AttributeDefinition *definition = definitions->attributes [i];
        json_t *given = json_object_get (values, definition->key);
        if (definition->required && (!given || json_is_null (given))) {
            char field [64];
            snprintf (field, sizeof field, "attributes.%s", definition->key);
            svc_field_error (reply, field, "is required");
        }
    }
}

char *
attribute_filter (svc_reply_t *reply, const Kaiin__Member__AttributeListReply *definitions,
                  Kaiin__Member__AttributeFilter *const *filters, size_t count)
{
    json_t *wanted = json_object ();
    bool bad = false;
    for (size_t i = 0; i < count; i++) {
        const char *key = filters [i]->key, *text = filters [i]->value;
        char field [64];
        snprintf (field, sizeof field, "attr.%s", key);
        const Kaiin__Member__AttributeDefinition *definition = s_attr_find (definitions, key);
        json_t *value = NULL;
        if (!definition) {
            svc_field_error (reply, field, "is not a defined attribute");
            bad = true;
            continue;
        }
        if (strcmp (definition->type, "number") == 0) {
            char *end;
            errno = 0;
            double number = strtod (text, &end);
            if (*text && !*end && !errno && isfinite (number))
                value = json_real (number);
        }
        else
        if (strcmp (definition->type, "boolean") == 0) {
            if (strcmp (text, "true") == 0 || strcmp (text, "false") == 0)
                value = json_boolean (strcmp (text, "true") == 0);
        }
        else {
            value = json_string (text);
            if (value && s_attr_value_problem (definition, value)) {
                json_decref (value);
                value = NULL;
            }
        }
        if (!value) {
            svc_field_error (reply, field, "is not a valid %s value", definition->type);
            bad = true;
        }
        else
        if (json_object_get (wanted, key)) {
            json_decref (value);
            svc_field_error (reply, field, "may be given once");
            bad = true;
        }
        else
            json_object_set_new (wanted, key, value);
    }
    char *text = bad? NULL: json_dumps (wanted, JSON_COMPACT);
    json_decref (wanted);
    return text;
}
