/* svc_openapi.c - a service's OpenAPI "paths" and "components/schemas", generated from its
   routes, permissions, field rules, message descriptors and proto comments */
#include "svc_openapi.h"
#include <assert.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORD_MAX 128
#define DEPTH_MAX 6                     /* objects inside a request body that are described */
#define TEXT_MAX 2048

/* What one generation works from, and the components it has made so far. */
typedef struct {
    const svc_def_t *def;
    const svc_http_t *http;
    json_t *schemas;
} s_gen_t;

const char *
svc_openapi_doc (const svc_http_t *http, const char *name)
{
    for (const svc_doc_t *doc = http? http->docs: NULL; doc && doc->name; doc++)
        if (strcmp (doc->name, name) == 0)
            return doc->text;
    for (const svc_doc_t *doc = svc_proto_docs; doc->name; doc++)
        if (strcmp (doc->name, name) == 0)
            return doc->text;
    return NULL;
}

/* Copies the next space-separated word of *at into word, without a trailing "!" (*bang then
   true, when bang is not NULL). False when there is none left. */
static bool
s_word (const char **at, char word [WORD_MAX], bool *bang)
{
    if (!*at)
        return false;
    *at += strspn (*at, " ");
    size_t size = strcspn (*at, " ");
    if (size == 0)
        return false;
    bool marked = (*at) [size - 1] == '!';
    snprintf (word, WORD_MAX, "%.*s", (int) (size - marked), *at);
    *at += size;
    if (bang)
        *bang = marked;
    return true;
}

/* The declared rules of descriptor's field, or NULL. */
static const svc_field_t *
s_rule_of (const svc_http_t *http, const ProtobufCMessageDescriptor *descriptor,
           const ProtobufCFieldDescriptor *field)
{
    const svc_field_t *rule = http->fields;
    while (rule && rule->message && !(rule->message == descriptor && strcmp (rule->field, field->name) == 0))
        rule++;
    return rule && rule->message? rule: NULL;
}

/* The comment of descriptor's field, or NULL. */
static const char *
s_field_doc (const s_gen_t *gen, const ProtobufCMessageDescriptor *descriptor,
             const ProtobufCFieldDescriptor *field)
{
    char name [2 * WORD_MAX];
    snprintf (name, sizeof name, "%s.%s", descriptor->name, field->name);
    return svc_openapi_doc (gen->http, name);
}

/* The component's name of a message: its full name without the "kaiin." all share. */
static const char *
s_component_name (const ProtobufCMessageDescriptor *descriptor)
{
    return strncmp (descriptor->name, "kaiin.", 6) == 0? descriptor->name + 6: descriptor->name;
}

static void s_reply_object (s_gen_t *gen, const ProtobufCMessageDescriptor *descriptor,
                            json_t *schema);

/* {"$ref": ...} to the reply schema of descriptor's messages, made when it is not yet. */
static json_t *
s_ref (s_gen_t *gen, const ProtobufCMessageDescriptor *descriptor)
{
    const char *name = s_component_name (descriptor);
    if (!json_object_get (gen->schemas, name)) {
        json_t *schema = json_object ();            /* there before it is filled: recursion */
        json_object_set_new (gen->schemas, name, schema);
        s_reply_object (gen, descriptor, schema);
    }
    char ref [WORD_MAX + 32];
    snprintf (ref, sizeof ref, "#/components/schemas/%s", name);
    return json_pack ("{s:s}", "$ref", ref);
}

/* "^[a-z0-9_-]*$" of a rule's characters ("a-z0-9_-": characters and ranges). */
static json_t *
s_pattern (const char *chars)
{
    char pattern [WORD_MAX * 2] = "^[";
    size_t used = strlen (pattern);
    for (const char *at = chars; *at && used + 8 < sizeof pattern; at++) {
        if (at [1] == '-' && at [2]) {
            used += (size_t) snprintf (pattern + used, sizeof pattern - used, "%c-%c", at [0], at [2]);
            at += 2;
        }
        else
            used += (size_t) snprintf (pattern + used, sizeof pattern - used, "%s%c",
                                       strchr ("-]\\^[", *at)? "\\": "", *at);
    }
    snprintf (pattern + used, sizeof pattern - used, "]*$");
    return json_string (pattern);
}

/* Adds rule's constraints on one value to schema: lengths, characters, allowed values,
   range. A request's string must have a character unless the rule allows "". */
static void
s_constraints (const svc_field_t *rule, const ProtobufCFieldDescriptor *field, bool reply,
               json_t *schema)
{
    bool text = field->type == PROTOBUF_C_TYPE_STRING;
    bool empty_ok = rule->flags & SVC_FIELD_EMPTY_OK;
    if (text && rule->max_chars) {
        json_object_set_new (schema, "maxLength", json_integer (rule->max_chars));
        if (!reply && !empty_ok)
            json_object_set_new (schema, "minLength", json_integer (1));
    }
    if (text && rule->chars)
        json_object_set_new (schema, "pattern", s_pattern (rule->chars));
    if (rule->one_of) {
        json_t *values = json_array ();
        char word [WORD_MAX];
        for (const char *at = rule->one_of; s_word (&at, word, NULL); )
            json_array_append_new (values, text? json_string (word): json_integer (strtoll (word, NULL, 10)));
        if (text && empty_ok && !reply)
            json_array_append_new (values, json_string (""));
        json_object_set_new (schema, "enum", values);
    }
    if (!text && rule->min < rule->max) {
        json_object_set_new (schema, "minimum", json_integer (rule->min));
        json_object_set_new (schema, "maximum", json_integer (rule->max));
    }
}

/* The schema of one value of field (an item, when it is repeated) as a reply shows it or a
   request takes it (a message: inline, depth deep). */
static json_t *
s_value_schema (s_gen_t *gen, const ProtobufCFieldDescriptor *field, const svc_field_t *rule,
                bool reply, int depth);

/* The schema of a request's object of descriptor's type: the keys it takes, the required. */
static json_t *
s_request_object (s_gen_t *gen, const ProtobufCMessageDescriptor *descriptor, int depth);

/* The lower-case names of an enum's values. */
static json_t *
s_enum_names (const ProtobufCEnumDescriptor *type)
{
    json_t *names = json_array ();
    for (unsigned i = 0; i < type->n_values; i++) {
        char name [WORD_MAX];
        size_t j = 0;
        for (; type->values [i].name [j] && j < sizeof name - 1; j++)
            name [j] = (char) tolower ((unsigned char) type->values [i].name [j]);
        name [j] = 0;
        json_array_append_new (names, json_string (name));
    }
    return names;
}

/* An int64 <x>_ms: a time, as pb_json.h says. */
static bool
s_is_time (const ProtobufCFieldDescriptor *field)
{
    char key [PB_JSON_FIELD_MAX];
    return field->type == PROTOBUF_C_TYPE_INT64 && strcmp (pb_json_key (field, key), field->name) != 0;
}

static json_t *
s_value_schema (s_gen_t *gen, const ProtobufCFieldDescriptor *field, const svc_field_t *rule,
                bool reply, int depth)
{
    json_t *schema;
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
            schema = json_pack ("{s:s, s:s}", "type", "integer", "format", "int32");
            break;
        case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
            schema = json_pack ("{s:s, s:i}", "type", "integer", "minimum", 0);
            break;
        case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
            if (!s_is_time (field))
                schema = json_pack ("{s:s, s:s}", "type", "integer", "format", "int64");
            else
            if (reply)                  /* as pb_json writes it: UTC, milliseconds */
                schema = json_pack ("{s:s, s:s, s:s}", "type", "string", "format", "date-time",
                                    "pattern", "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z$");
            else
                schema = json_pack ("{s:s, s:s}", "type", "string", "format", "date-time");
            break;
        case PROTOBUF_C_TYPE_FLOAT: case PROTOBUF_C_TYPE_DOUBLE:
            schema = json_pack ("{s:s}", "type", "number");
            break;
        case PROTOBUF_C_TYPE_BOOL:
            schema = json_pack ("{s:s}", "type", "boolean");
            break;
        case PROTOBUF_C_TYPE_ENUM:
            schema = json_pack ("{s:s, s:o}", "type", "string", "enum", s_enum_names (field->descriptor));
            break;
        case PROTOBUF_C_TYPE_STRING:
            schema = json_pack ("{s:s}", "type", "string");
            break;
        case PROTOBUF_C_TYPE_BYTES:
            schema = json_pack ("{s:s, s:s}", "type", "string", "format", "byte");
            break;
        case PROTOBUF_C_TYPE_MESSAGE:
            return reply? s_ref (gen, field->descriptor): s_request_object (gen, field->descriptor, depth + 1);
        default:
            assert (!"a protobuf-c type that svc_openapi does not know");
            return json_object ();
    }
    if (rule)
        s_constraints (rule, field, reply, schema);
    return schema;
}

/* Whether a reply may show null for field (pb_json.h's rules, then the declared ones). */
static bool
s_reply_nullable (const ProtobufCFieldDescriptor *field, const svc_field_t *rule)
{
    unsigned flags = rule? rule->flags: 0;
    if (field->label == PROTOBUF_C_LABEL_REPEATED)
        return false;
    if (field->type == PROTOBUF_C_TYPE_STRING && (flags & SVC_FIELD_EMPTY_SHOWN))
        return false;
    return field->type == PROTOBUF_C_TYPE_STRING || field->type == PROTOBUF_C_TYPE_MESSAGE
        || s_is_time (field) || (flags & SVC_FIELD_ZERO_NULL)
        || field->label == PROTOBUF_C_LABEL_OPTIONAL || (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
}

/* Whether a request may give null for field (svc_http_read's rules, then the codec's). */
static bool
s_request_nullable (const ProtobufCFieldDescriptor *field, const svc_field_t *rule)
{
    unsigned flags = rule? rule->flags: 0;
    if (flags & SVC_FIELD_NOT_NULL)
        return false;
    if ((rule && rule->absent) || (flags & SVC_FIELD_ZERO_NULL))
        return true;
    if (rule && rule->max_chars && !(flags & SVC_FIELD_EMPTY_OK))
        return false;
    return field->label == PROTOBUF_C_LABEL_REPEATED || s_is_time (field)
        || field->type == PROTOBUF_C_TYPE_STRING || field->type == PROTOBUF_C_TYPE_MESSAGE
        || field->label == PROTOBUF_C_LABEL_OPTIONAL || (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
}

/* Sets rule's value for an absent key as schema's default, when it is one schema allows. */
static void
s_default (const svc_field_t *rule, json_t *schema)
{
    json_t *value = rule && rule->absent? json_loads (rule->absent, JSON_DECODE_ANY, NULL): NULL;
    json_t *minimum = json_object_get (schema, "minimum"), *maximum = json_object_get (schema, "maximum");
    json_t *allowed = json_object_get (schema, "enum");
    bool ok = value != NULL;
    if (ok && json_is_integer (value) && minimum && maximum)
        ok = json_integer_value (value) >= json_integer_value (minimum)
          && json_integer_value (value) <= json_integer_value (maximum);
    if (ok && allowed) {
        size_t i;
        json_t *item;
        bool found = false;
        json_array_foreach (allowed, i, item)
            found |= json_equal (item, value);
        ok = found;
    }
    if (ok)
        json_object_set (schema, "default", value);
    json_decref (value);
}

/* The schema of descriptor's field under its key, for a reply or a request. */
static json_t *
s_field_schema (s_gen_t *gen, const ProtobufCMessageDescriptor *descriptor,
                const ProtobufCFieldDescriptor *field, bool reply, int depth)
{
    const svc_field_t *rule = s_rule_of (gen->http, descriptor, field);
    json_t *schema;
    bool nullable = reply? s_reply_nullable (field, rule): s_request_nullable (field, rule);
    if (rule && (rule->flags & SVC_FIELD_JSON)) {
        /* a reply shows any JSON value (or null); a request gives an object */
        schema = reply? json_object (): json_pack ("{s:s}", "type", "object");
        nullable = !reply && nullable;
    }
    else
    if (field->label == PROTOBUF_C_LABEL_REPEATED)
        schema = json_pack ("{s:s, s:o}", "type", "array", "items",
                            s_value_schema (gen, field, rule, reply, depth));
    else
    if (field->type == PROTOBUF_C_TYPE_MESSAGE && reply)
        schema = json_pack ("{s:[o]}", "allOf", s_value_schema (gen, field, rule, reply, depth));
    else
        schema = s_value_schema (gen, field, rule, reply, depth);
    if (nullable)
        json_object_set_new (schema, "nullable", json_true ());
    if (!reply && field->label != PROTOBUF_C_LABEL_REPEATED)
        s_default (rule, schema);
    const char *doc = s_field_doc (gen, descriptor, field);
    if (doc)
        json_object_set_new (schema, "description", json_string (doc));
    return schema;
}

/* The key a reply shows field under. */
static const char *
s_reply_key (const svc_field_t *rule, const ProtobufCFieldDescriptor *field, char key [PB_JSON_FIELD_MAX])
{
    if (rule && rule->key)
        return rule->key;
    return pb_json_key (field, key);
}

/* Fills schema: descriptor's message as every reply shows it (svc_http_write): every key but
   the hidden ones, renamed where declared, each always there but those left out when empty. */
static void
s_reply_object (s_gen_t *gen, const ProtobufCMessageDescriptor *descriptor, json_t *schema)
{
    json_t *properties = json_object (), *required = json_array ();
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields [i];
        const svc_field_t *rule = s_rule_of (gen->http, descriptor, field);
        if (rule && (rule->flags & SVC_FIELD_HIDDEN))
            continue;
        char own [PB_JSON_FIELD_MAX];
        const char *key = s_reply_key (rule, field, own);
        json_object_set_new (properties, key, s_field_schema (gen, descriptor, field, true, 0));
        if (!rule || !(rule->flags & SVC_FIELD_OMIT_EMPTY))     /* else there only when set */
            json_array_append_new (required, json_string (key));
    }
    json_object_set_new (schema, "type", json_string ("object"));
    const char *doc = svc_openapi_doc (gen->http, descriptor->name);
    if (doc)
        json_object_set_new (schema, "description", json_string (doc));
    json_object_set_new (schema, "additionalProperties", json_false ());
    if (json_array_size (required))             /* OpenAPI 3.0: never an empty list */
        json_object_set_new (schema, "required", required);
    else
        json_decref (required);
    json_object_set_new (schema, "properties", properties);
}

/* The field of descriptor a body's key fills: its own, or one whose JSON text it is
   (SVC_FIELD_JSON with .key). NULL when none. */
static const ProtobufCFieldDescriptor *
s_body_field (const svc_http_t *http, const ProtobufCMessageDescriptor *descriptor, const char *key)
{
    const ProtobufCFieldDescriptor *field = pb_json_field (descriptor, key);
    for (const svc_field_t *rule = http->fields; !field && rule && rule->message; rule++)
        if (rule->message == descriptor && (rule->flags & SVC_FIELD_JSON) && rule->key
        &&  strcmp (rule->key, key) == 0)
            field = protobuf_c_message_descriptor_get_field_by_name (descriptor, rule->field);
    return field;
}

static json_t *
s_request_object (s_gen_t *gen, const ProtobufCMessageDescriptor *descriptor, int depth)
{
    json_t *schema = json_pack ("{s:s}", "type", "object");
    if (depth > DEPTH_MAX)
        return schema;
    json_t *properties = json_object (), *required = json_array ();
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields [i];
        const svc_field_t *rule = s_rule_of (gen->http, descriptor, field);
        unsigned flags = rule? rule->flags: 0;
        if (flags & SVC_FIELD_READ_ONLY)
            continue;
        char key [PB_JSON_FIELD_MAX];
        const char *name = (flags & SVC_FIELD_JSON) && rule->key? rule->key: pb_json_key (field, key);
        json_object_set_new (properties, name, s_field_schema (gen, descriptor, field, false, depth));
        if (flags & SVC_FIELD_REQUIRED)
            json_array_append_new (required, json_string (name));
    }
    const char *doc = svc_openapi_doc (gen->http, descriptor->name);
    if (doc)
        json_object_set_new (schema, "description", json_string (doc));
    json_object_set_new (schema, "additionalProperties", json_false ());
    if (json_array_size (required))
        json_object_set_new (schema, "required", required);
    else
        json_decref (required);
    json_object_set_new (schema, "properties", properties);
    return schema;
}

/* The request body's schema: the route's keys of its input (or of its body field). */
static json_t *
s_body_schema (s_gen_t *gen, const svc_route_t *route)
{
    const ProtobufCFieldDescriptor *body = route->body? pb_json_field (route->input, route->body): NULL;
    const ProtobufCMessageDescriptor *target = body? body->descriptor: route->input;
    json_t *properties = json_object (), *required = json_array ();
    char word [WORD_MAX];
    bool bang;
    for (const char *at = route->keys; s_word (&at, word, &bang); ) {
        const ProtobufCFieldDescriptor *field = s_body_field (gen->http, target, word);
        assert (field);                 /* a declaration's mistake */
        json_t *schema = s_field_schema (gen, target, field, false, 0);
        if (bang) {
            json_object_del (schema, "nullable");            /* null: "is required" */
            json_array_append_new (required, json_string (word));
        }
        json_object_set_new (properties, word, schema);
    }
    json_t *schema = json_pack ("{s:s, s:b, s:o}", "type", "object", "additionalProperties", 0,
                                "properties", properties);
    const char *doc = svc_openapi_doc (gen->http, target->name);
    if (doc)
        json_object_set_new (schema, "description", json_string (doc));
    if (json_array_size (required))
        json_object_set_new (schema, "required", required);
    else
        json_decref (required);
    return schema;
}

static json_t *
s_ref_to (const char *kind, const char *name)
{
    char ref [WORD_MAX];
    snprintf (ref, sizeof ref, "#/components/%s/%s", kind, name);
    return json_pack ("{s:s}", "$ref", ref);
}

/* A parameter of the path, query or headers that fills input's field (a repeated one: an item
   each time it is given; a map entry's: its value). */
static json_t *
s_parameter (s_gen_t *gen, const svc_route_t *route, const char *name, const char *in,
             const char *field_name)
{
    const ProtobufCMessageDescriptor *message = route->input;
    const ProtobufCFieldDescriptor *field = pb_json_field (message, field_name);
    if (!field && route->query_into) {  /* a field of the message the query fills */
        message = pb_json_field (route->input, route->query_into)->descriptor;
        field = pb_json_field (message, field_name);
    }
    assert (field);                     /* a declaration's mistake */
    const svc_field_t *rule = s_rule_of (gen->http, message, field);
    json_t *schema;
    const char *doc = s_field_doc (gen, message, field);
    if (field->type == PROTOBUF_C_TYPE_MESSAGE && field->label == PROTOBUF_C_LABEL_REPEATED) {
        const ProtobufCMessageDescriptor *entry = field->descriptor;   /* a map entry's value */
        assert (entry->n_fields >= 2);
        schema = s_value_schema (gen, &entry->fields [1], NULL, false, 0);
    }
    else
    if (field->label == PROTOBUF_C_LABEL_REPEATED)
        schema = json_pack ("{s:s, s:o}", "type", "array", "items", s_value_schema (gen, field, rule, false, 0));
    else
        schema = s_value_schema (gen, field, rule, false, 0);
    s_default (rule, schema);
    json_t *parameter = json_pack ("{s:s, s:s, s:b, s:o}", "name", name, "in", in, "required",
                                   strcmp (in, "path") == 0, "schema", schema);
    if (field->label == PROTOBUF_C_LABEL_REPEATED && field->type != PROTOBUF_C_TYPE_MESSAGE)
        json_object_set_new (parameter, "explode", json_true ());
    if (doc)
        json_object_set_new (parameter, "description", json_string (doc));
    return parameter;
}

/* The route's parameters: X-Request-Id, the path's, the query's, the headers taken into
   fields, If-Match and Idempotency-Key. */
static json_t *
s_parameters (s_gen_t *gen, const svc_route_t *route, bool idempotent)
{
    json_t *list = json_pack ("[o]", s_ref_to ("parameters", "XRequestId"));
    for (const char *at = strchr (route->path, '{'); at; at = strchr (at + 1, '{')) {
        char name [WORD_MAX], field [WORD_MAX];
        snprintf (name, sizeof name, "%.*s", (int) strcspn (at + 1, "}"), at + 1);
        snprintf (field, sizeof field, "%s", name);
        char word [WORD_MAX];
        size_t length = strlen (name);
        for (const char *renames = route->path_fields; s_word (&renames, word, NULL); )
            if (strncmp (word, name, length) == 0 && word [length] == '=')
                snprintf (field, sizeof field, "%s", word + length + 1);
        json_array_append_new (list, s_parameter (gen, route, name, "path", field));
    }
    char word [WORD_MAX];
    for (const char *at = route->query; s_word (&at, word, NULL); ) {
        char *equals = strchr (word, '=');
        const char *field = equals? equals + 1: word;
        if (equals)
            *equals = 0;
        char name [WORD_MAX];
        size_t length = strlen (word);
        if (length >= 2 && strcmp (word + length - 2, ".*") == 0)
            snprintf (name, sizeof name, "%.*s.<key>", (int) length - 2, word);   /* attr.<key> */
        else
            snprintf (name, sizeof name, "%s", word);
        json_array_append_new (list, s_parameter (gen, route, name, "query", field));
    }
    for (const char *at = route->headers; s_word (&at, word, NULL); ) {
        char *equals = strchr (word, '=');
        assert (equals);                /* a declaration's mistake */
        *equals = 0;
        json_array_append_new (list, s_parameter (gen, route, word, "header", equals + 1));
    }
    if (route->if_match)
        json_array_append_new (list, s_ref_to ("parameters", "IfMatch"));
    if (idempotent)
        json_array_append_new (list, s_ref_to ("parameters", "IdempotencyKey"));
    return list;
}

/* The message a route answers with: its output, or the output's .response field. */
static const ProtobufCMessageDescriptor *
s_shown (const svc_route_t *route)
{
    if (!route->response)
        return route->output;
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field_by_name (
        route->output, route->response);
    assert (field && field->type == PROTOBUF_C_TYPE_MESSAGE);     /* a declaration's mistake */
    return field->descriptor;
}

/* The route's responses: its success with its headers, and the problems it may answer. */
static json_t *
s_responses (s_gen_t *gen, const svc_route_t *route, bool idempotent)
{
    const ProtobufCMessageDescriptor *shown = s_shown (route);
    json_t *headers = json_pack ("{s:o}", "X-Request-Id", s_ref_to ("headers", "XRequestId"));
    const ProtobufCFieldDescriptor *version = protobuf_c_message_descriptor_get_field_by_name (
        shown, "version");
    if (version && version->type == PROTOBUF_C_TYPE_INT64 && version->label != PROTOBUF_C_LABEL_REPEATED)
        json_object_set_new (headers, "ETag", s_ref_to ("headers", "ETag"));
    if (route->location) {
        char text [WORD_MAX * 2];
        snprintf (text, sizeof text, "%s of the new resource.", route->location);
        json_object_set_new (headers, "Location", json_pack ("{s:s, s:{s:s}}", "description", text,
                                                             "schema", "type", "string"));
    }
    if (idempotent)
        json_object_set_new (headers, "Idempotency-Replayed", s_ref_to ("headers", "IdempotencyReplayed"));
    const char *doc = svc_openapi_doc (gen->http, shown->name);
    char description [TEXT_MAX];
    snprintf (description, sizeof description, "%s%s", doc? doc: shown->short_name, route->paged
              ? "\n\nSent as it is read, a part at a time (chunked): the status and headers are"
                " the first part's, and a failure after it cuts the response short.": "");
    char status [8], media [WORD_MAX] = "application/json";
    snprintf (status, sizeof status, "%d", route->status? route->status: 200);
    json_t *schema;
    if (route->reply_body) {            /* not JSON, or JSON the service wrote as it is */
        snprintf (media, sizeof media, "%.*s", (int) strcspn (route->content_type, "; "), route->content_type);
        schema = json_pack ("{s:s}", "type", strcmp (media, "application/json") == 0? "object": "string");
    }
    else
    if (route->signs_in) {              /* the session's token beside the reply */
        schema = json_object ();
        s_reply_object (gen, shown, schema);
        json_object_update_new (json_object_get (schema, "properties"), json_pack (
            "{s:{s:s, s:s}, s:{s:s, s:[s]}, s:{s:s}}",
            "token", "type", "string", "pattern", "^k[sm]s_[0-9a-f]{64}$",
            "token_type", "type", "string", "enum", "Bearer", "expires_in", "type", "integer"));
        json_t *more = json_pack ("[s, s, s]", "token", "token_type", "expires_in");
        json_array_extend (json_object_get (schema, "required"), more);
        json_decref (more);
    }
    else
    if (route->many)                    /* one item, or them all */
        schema = json_pack ("{s:[o, o]}", "oneOf",
            s_ref (gen, pb_json_field (route->output, route->body)->descriptor), s_ref (gen, shown));
    else
        schema = s_ref (gen, shown);
    json_t *responses = json_pack ("{s:{s:s, s:o}}", status, "description", description,
                                   "headers", headers);
    if (strcmp (status, "204") != 0)
        json_object_set_new (json_object_get (responses, status), "content",
                             json_pack ("{s:{s:o}}", media, "schema", schema));
    else
        json_decref (schema);
    bool open = route->permission == SVC_OPEN;
    bool body = route->keys != NULL;
    const struct { const char *status, *name; bool applies; } problems [] = {
        { "400", "InvalidRequest", true },
        { "401", "Unauthenticated", true },
        { "403", "Forbidden", !open },
        { "404", "NotFound", strchr (route->path, '{') != NULL },
        { "409", "Conflict", strcmp (route->verb, "GET") != 0 || idempotent },
        { "412", "PreconditionFailed", route->if_match },
        { "413", "PayloadTooLarge", body },
        { "415", "UnsupportedMediaType", (body && !route->raw) || route->accepts },
        { "422", "IdempotencyKeyMismatch", idempotent },
        { "429", "RateLimited", route->signs_in != NULL },
        { "500", "Internal", true },
        { "503", "ServiceUnavailable", true },
        { "504", "Timeout", true },
    };
    for (size_t i = 0; i < sizeof problems / sizeof problems [0]; i++)
        if (problems [i].applies)
            json_object_set_new (responses, problems [i].status, s_ref_to ("responses", problems [i].name));
    /* A route's own problems carry its reply's members beside the problem's (a refused import
       and its report). */
    char word [WORD_MAX];
    for (const char *at = route->problems; s_word (&at, word, NULL); ) {
        json_t *problem = json_object ();
        s_reply_object (gen, shown, problem);
        json_object_update_new (json_object_get (problem, "properties"), json_pack (
            "{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:s}, s:{s:s}, s:{s:s}, s:{s:s}}", "type", "type", "string",
            "title", "type", "string", "status", "type", "integer",
            "code", "type", "string", "pattern", "^[a-z][a-z0-9_]*$", "detail", "type", "string",
            "instance", "type", "string", "request_id", "type", "string"));
        json_t *more = json_pack ("[s, s, s, s, s, s, s]", "type", "title", "status", "code", "detail",
                                  "instance", "request_id");
        json_array_extend (json_object_get (problem, "required"), more);
        json_decref (more);
        json_object_set_new (responses, word, json_pack ("{s:s, s:{s:o}, s:{s:{s:o}}}",
            "description", "A problem of the route's own, with the reply's members beside the problem's.",
            "headers", "X-Request-Id", s_ref_to ("headers", "XRequestId"),
            "content", "application/problem+json", "schema", problem));
    }
    return responses;
}

/* Who may call the route, in words: the permission's roles, and what members' sessions may. */
static void
s_who (const s_gen_t *gen, const svc_route_t *route, char *text, size_t size)
{
    const svc_permission_t *permission = gen->http->permissions;
    while (route->permission && *route->permission && permission->name
       &&  strcmp (permission->name, route->permission) != 0)
        permission++;
    if (route->permission == SVC_OPEN)
        snprintf (text, size, "No token: anyone may call it.");
    else
    if (!*route->permission)
        snprintf (text, size, "Any signed-in caller.");
    else
        snprintf (text, size, "Permission `%s`: roles %s.", route->permission,
                  permission->name? permission->roles: "(none)");
    const ProtobufCEnumValue *rule = protobuf_c_enum_descriptor_get_value (
        &kaiin__member_rule__descriptor, route->member);
    char name [WORD_MAX];
    snprintf (name, sizeof name, "kaiin.MemberRule.%s", rule? rule->name: "");
    const char *doc = route->member? svc_openapi_doc (gen->http, name): NULL;
    if (doc) {
        size_t used = strlen (text);
        snprintf (text + used, size - used, " Members' sessions: %s.", doc);
    }
}

/* "PlanCreate" as "Plan create". */
static void
s_summary (const char *method, char *text, size_t size)
{
    size_t used = 0;
    for (const char *at = method; *at && used + 2 < size; at++) {
        if (at != method && isupper ((unsigned char) *at))
            text [used++] = ' ';
        text [used++] = at == method? *at: (char) tolower ((unsigned char) *at);
    }
    text [used] = 0;
}

/* The operation of routes [index]. */
static json_t *
s_operation (s_gen_t *gen, size_t index)
{
    const svc_route_t *route = &gen->http->routes [index];
    bool idempotent = false;
    for (const svc_method_t *entry = gen->def->methods; entry->method; entry++)
        if (strcmp (entry->method, route->method) == 0)
            idempotent = entry->idempotent;
    size_t earlier = 0;
    for (size_t i = 0; i < index; i++)
        earlier += strcmp (gen->http->routes [i].method, route->method) == 0;
    char id [WORD_MAX * 2], summary [WORD_MAX], who [TEXT_MAX / 2], description [TEXT_MAX];
    if (earlier)
        snprintf (id, sizeof id, "%s.%s.%zu", gen->def->name, route->method, earlier + 1);
    else
        snprintf (id, sizeof id, "%s.%s", gen->def->name, route->method);
    s_summary (route->method, summary, sizeof summary);
    s_who (gen, route, who, sizeof who);
    const char *doc = svc_openapi_doc (gen->http, route->input->name);
    snprintf (description, sizeof description, "%s%s%s", doc? doc: "", doc? "\n\n": "", who);
    json_t *operation = json_pack ("{s:[s], s:s, s:s, s:s, s:o}", "tags", gen->def->name,
                                   "operationId", id, "summary", summary, "description", description,
                                   "parameters", s_parameters (gen, route, idempotent));
    if (route->raw && route->accepts) {
        json_t *content = json_object ();
        char word [WORD_MAX];
        for (const char *at = route->accepts; s_word (&at, word, NULL); )
            json_object_set_new (content, word, json_pack ("{s:{s:s}}", "schema", "type", "string"));
        json_t *body = json_pack ("{s:b, s:o}", "required", 1, "content", content);
        if (route->max_body) {          /* the file's limit, and how it is taken */
            char limit [160];
            snprintf (limit, sizeof limit, "The file as it is, at most %zu MiB (413 beyond)%s.",
                      route->max_body >> 20, route->streamed? ": streamed, the gateway never"
                      " holds it whole": "");
            json_object_set_new (body, "description", json_string (limit));
        }
        json_object_set_new (operation, "requestBody", body);
    }
    else
    if (route->raw)
        json_object_set_new (operation, "requestBody", json_pack (
            "{s:b, s:{s:{s:{}}}}", "required", 1, "content", "application/json", "schema"));
    else
    if (route->keys) {
        json_t *schema = s_body_schema (gen, route);
        if (route->many)                /* one item, or {"<many>": [items]} */
            schema = json_pack ("{s:[o, {s:s, s:b, s:[s], s:{s:{s:s, s:i, s:O}}}]}", "oneOf", schema,
                                "type", "object", "additionalProperties", 0, "required", route->many,
                                "properties", route->many, "type", "array", "minItems", 1, "items",
                                schema);
        json_t *content = json_pack ("{s:{s:O}}", "application/json", "schema", schema);
        if (strcmp (route->verb, "PATCH") == 0)
            json_object_set_new (content, "application/merge-patch+json", json_pack ("{s:O}", "schema", schema));
        json_decref (schema);
        json_object_set_new (operation, "requestBody", json_pack ("{s:b, s:o}", "required",
                             strchr (route->keys, '!') != NULL, "content", content));
    }
    json_object_set_new (operation, "responses", s_responses (gen, route, idempotent));
    json_object_set_new (operation, "security", route->permission == SVC_OPEN
                         ? json_array (): json_pack ("[{s:[]}]", "bearerAuth"));
    return operation;
}

int
svc_openapi_fragments (const svc_def_t *def, char **paths, char **schemas)
{
    assert (def->http);
    s_gen_t gen = { def, def->http, json_object () };
    json_t *items = json_object ();
    for (size_t i = 0; def->http->routes [i].verb; i++) {
        const svc_route_t *route = &def->http->routes [i];
        json_t *item = json_object_get (items, route->path);
        if (!item)
            json_object_set_new (items, route->path, item = json_object ());
        char verb [16];
        size_t j = 0;
        for (; route->verb [j] && j < sizeof verb - 1; j++)
            verb [j] = (char) tolower ((unsigned char) route->verb [j]);
        verb [j] = 0;
        json_object_set_new (item, verb, s_operation (&gen, i));
    }
    *paths = json_dumps (items, JSON_COMPACT | JSON_SORT_KEYS);
    *schemas = json_dumps (gen.schemas, JSON_COMPACT | JSON_SORT_KEYS);
    assert (*paths && *schemas);
    json_decref (items);
    json_decref (gen.schemas);
    return 0;
}

uint8_t *
svc_openapi_announcement (const svc_def_t *def, size_t *size)
{
    uint8_t *packed = svc_http_announcement (def->name, def->http, size);
    Kaiin__ServiceApi *api = kaiin__service_api__unpack (NULL, *size, packed);
    assert (api);
    free (packed);
    svc_openapi_fragments (def, &api->openapi_paths, &api->openapi_schemas);
    *size = kaiin__service_api__get_packed_size (api);
    packed = malloc (*size + 1);
    assert (packed);
    kaiin__service_api__pack (api, packed);
    kaiin__service_api__free_unpacked (api, NULL);
    return packed;
}
