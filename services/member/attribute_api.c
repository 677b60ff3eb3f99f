/* attribute_api.c - custom attributes' definitions and member ranks: the methods, and the
   checks of a member's attribute values against the definitions */
#include "attribute_api.h"
#include "attribute_store.h"
#include "clock.h"
#include "member_text.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTRIBUTE_LABEL_MAX   100
#define ATTRIBUTE_TEXT_MAX    500
#define ATTRIBUTE_OPTIONS_MAX 100
#define ATTRIBUTES_MAX        100

static const char *const s_types [] = { "string", "number", "date", "boolean", "select", NULL };

/* The SETTINGS permission: owners and admins. */
static bool
s_attr_may_configure (svc_request_t *request)
{
    const char *role = request->envelope->caller_role;
    return strcmp (role, "owner") == 0 || strcmp (role, "admin") == 0;
}

static int64_t
s_attr_now (svc_request_t *request)
{
    return request->envelope->now_ms? request->envelope->now_ms: clock_now_ms ();
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

int
attribute_api_list (svc_request_t *request, svc_reply_t *reply)
{
    if (!s_attr_may_configure (request))
        return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED,
                         "only owners and admins manage member attributes");
    Kaiin__Member__AttributeListReply list = KAIIN__MEMBER__ATTRIBUTE_LIST_REPLY__INIT;
    if (attribute_store_list (request->db, &list) != MEMBER_STORE_OK)
        return svc_db_fail (reply, request->db);
    svc_reply_with (reply, &list.base);
    attribute_store_clear_list (&list);
    return 0;
}

int
attribute_api_define (svc_request_t *request, svc_reply_t *reply)
{
    if (!s_attr_may_configure (request))
        return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED,
                         "only owners and admins manage member attributes");
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
        Kaiin__Member__AttributeListReply existing = KAIIN__MEMBER__ATTRIBUTE_LIST_REPLY__INIT;
        member_store_rc_t stored = attribute_store_list (request->db, &existing);
        size_t count = existing.n_attributes;
        attribute_store_clear_list (&existing);
        if (stored == MEMBER_STORE_OK && count >= ATTRIBUTES_MAX)
            rc = svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                           "at most %d attributes can be defined", ATTRIBUTES_MAX);
        else {
            audit_actor_t actor = audit_actor_of (request, s_attr_now (request));
            if (stored == MEMBER_STORE_OK)
                stored = attribute_store_define (request->db, definition, &actor);
            if (stored == MEMBER_STORE_OK)
                rc = svc_reply_with (reply, &definition->base);
            else
            if (stored == MEMBER_STORE_DUPLICATE) {
                svc_fail (reply, KAIIN__STATUS__ALREADY_EXISTS, "an attribute with this key exists");
                svc_field_error (reply, "key", "is already defined");
            }
            else
                rc = svc_db_fail (reply, request->db);
        }
    }
    protobuf_c_message_free_unpacked (&definition->base, NULL);
    return rc;
}

int
attribute_api_ranks (svc_request_t *request, svc_reply_t *reply)
{
    if (!s_attr_may_configure (request))
        return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only owners and admins manage ranks");
    Kaiin__Member__RankListReply list = KAIIN__MEMBER__RANK_LIST_REPLY__INIT;
    if (attribute_store_ranks (request->db, &list) != MEMBER_STORE_OK)
        return svc_db_fail (reply, request->db);
    svc_reply_with (reply, &list.base);
    attribute_store_clear_ranks (&list);
    return 0;
}

int
attribute_api_add_rank (svc_request_t *request, svc_reply_t *reply)
{
    if (!s_attr_may_configure (request))
        return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only owners and admins manage ranks");
    Kaiin__Member__Rank *rank = (Kaiin__Member__Rank *)
        svc_unpack (request, &kaiin__member__rank__descriptor, reply);
    if (!rank)
        return -1;
    if (!s_attr_is_key (rank->code, 32))
        svc_field_error (reply, "code", "must be a lower-case letter then up to 31 lower-case letters, digits or _");
    s_attr_check_label (reply, rank->label);
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        audit_actor_t actor = audit_actor_of (request, s_attr_now (request));
        member_store_rc_t stored = attribute_store_add_rank (request->db, rank, &actor);
        if (stored == MEMBER_STORE_OK)
            rc = svc_reply_with (reply, &rank->base);
        else
        if (stored == MEMBER_STORE_DUPLICATE) {
            svc_fail (reply, KAIIN__STATUS__ALREADY_EXISTS, "a rank with this code exists");
            svc_field_error (reply, "code", "is already defined");
        }
        else
            rc = svc_db_fail (reply, request->db);
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

/* Checks one value against its definition; returns NULL or what is wrong. */
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
attribute_api_check (svc_reply_t *reply, const Kaiin__Member__AttributeListReply *definitions,
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
            svc_field_error (reply, field, "%s", problem);
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
attribute_api_filter (svc_reply_t *reply, const Kaiin__Member__AttributeListReply *definitions,
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
