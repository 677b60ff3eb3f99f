/* svc_http.c - a service's HTTP face: the announcement of its routes, a route's JSON, path
   and query read into the method's request, its reply written as JSON */
#include "svc_http.h"
#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* True when word is one of list's space-separated words (a trailing "!" marks a required
   one: *required says whether it had one, when not NULL). */
static bool
s_listed (const char *list, const char *word, bool *required)
{
    size_t length = strlen (word);
    for (const char *at = list; at && *at; ) {
        at += strspn (at, " ");
        size_t size = strcspn (at, " ");
        bool bang = size > 0 && at [size - 1] == '!';
        if (size - bang == length && strncmp (at, word, length) == 0) {
            if (required)
                *required = bang;
            return true;
        }
        at += size;
    }
    return false;
}

/* Splits list's words (without their "!") into a new array of new strings, *count set. */
static char **
s_words (const char *list, size_t *count)
{
    char **words = NULL;
    *count = 0;
    for (const char *at = list; at && *at; ) {
        at += strspn (at, " ");
        size_t size = strcspn (at, " ");
        if (size) {
            words = realloc (words, (*count + 1) * sizeof *words);
            assert (words);
            words [(*count)++] = strndup (at, size - (at [size - 1] == '!'));
        }
        at += size;
    }
    return words;
}

static void
s_words_free (char **words, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free (words [i]);
    free (words);
}

uint8_t *
svc_http_announcement (const char *service, const svc_http_t *http, size_t *size)
{
    Kaiin__ServiceApi api = KAIIN__SERVICE_API__INIT;
    api.service = (char *) service;
    char key_method [96] = "";
    if (http->key_method)
        snprintf (key_method, sizeof key_method, "%s.%s", service, http->key_method);
    api.key_method = key_method;
    for (const svc_route_t *route = http->routes; route->verb; route++)
        api.n_routes++;
    for (const svc_permission_t *permission = http->permissions; permission->name; permission++)
        api.n_permissions++;
    Kaiin__Route *routes = calloc (api.n_routes + 1, sizeof *routes);
    Kaiin__Permission *permissions = calloc (api.n_permissions + 1, sizeof *permissions);
    api.routes = calloc (api.n_routes + 1, sizeof *api.routes);
    api.permissions = calloc (api.n_permissions + 1, sizeof *api.permissions);
    char (*methods) [96] = calloc (api.n_routes + 1, sizeof *methods);
    assert (routes && permissions && api.routes && api.permissions && methods);
    for (size_t i = 0; i < api.n_routes; i++) {
        const svc_route_t *route = &http->routes [i];
        Kaiin__Route *out = api.routes [i] = &routes [i];
        kaiin__route__init (out);
        snprintf (methods [i], sizeof methods [i], "%s.%s", service, route->method);
        out->verb = (char *) route->verb;
        out->path = (char *) route->path;
        out->method = methods [i];
        out->open = route->permission == SVC_OPEN;
        out->permission = (char *) (route->permission? route->permission: "");
        out->member = route->member;
        out->max_body = (uint32_t) route->max_body;
        out->status = route->status? (uint32_t) route->status: 200;
        out->location = (char *) (route->location? route->location: "");
        out->if_match = route->if_match;
        out->query = s_words (route->query, &out->n_query);
        for (size_t j = 0; j < out->n_query; j++)
            out->query [j][strcspn (out->query [j], "=")] = 0;     /* as clients name them */
        out->headers = s_words (route->headers, &out->n_headers);
        out->raw_body = route->raw != NULL;
        out->signs_in = (char *) (route->signs_in? route->signs_in: "");
        out->timeout_ms = (uint32_t) route->timeout_ms;
        out->accepts = s_words (route->accepts, &out->n_accepts);
        out->streamed = route->streamed;
        out->paged = route->paged;
    }
    for (size_t i = 0; i < api.n_permissions; i++) {
        Kaiin__Permission *out = api.permissions [i] = &permissions [i];
        kaiin__permission__init (out);
        out->name = (char *) http->permissions [i].name;
        out->roles = s_words (http->permissions [i].roles, &out->n_roles);
    }
    *size = kaiin__service_api__get_packed_size (&api);
    uint8_t *packed = malloc (*size + 1);
    assert (packed);
    kaiin__service_api__pack (&api, packed);
    for (size_t i = 0; i < api.n_routes; i++) {
        s_words_free (routes [i].query, routes [i].n_query);
        s_words_free (routes [i].headers, routes [i].n_headers);
        s_words_free (routes [i].accepts, routes [i].n_accepts);
    }
    for (size_t i = 0; i < api.n_permissions; i++)
        s_words_free (permissions [i].roles, permissions [i].n_roles);
    free (routes);
    free (permissions);
    free (api.routes);
    free (api.permissions);
    free (methods);
    return packed;
}

const svc_route_t *
svc_http_route (const svc_http_t *http, const Kaiin__Request *envelope)
{
    if (!http || !envelope->http)
        return NULL;
    const char *name = envelope->http->route;
    for (const svc_route_t *route = http->routes; route->verb; route++) {
        size_t verb = strlen (route->verb);
        if (strncmp (name, route->verb, verb) == 0 && name [verb] == ' '
        &&  strcmp (name + verb + 1, route->path) == 0)
            return route;
    }
    return NULL;
}

/* The rules of descriptor's field, or NULL. */
static const svc_field_t *
s_rule (const svc_http_t *http, const ProtobufCMessageDescriptor *descriptor, const char *field)
{
    for (const svc_field_t *rule = http->fields; rule && rule->message; rule++)
        if (rule->message == descriptor && strcmp (rule->field, field) == 0)
            return rule;
    return NULL;
}

/* "a, b or c" of list's words into text. */
static void
s_alternatives (const char *list, char *text, size_t size)
{
    size_t count;
    char **words = s_words (list, &count);
    *text = 0;
    for (size_t i = 0, used = 0; i < count; i++, used = strlen (text))
        snprintf (text + used, size - used, "%s%s", i == 0? "": i + 1 == count? " or ": ", ", words [i]);
    s_words_free (words, count);
}

/* True when every byte of text is one of the set's: characters and a-z style ranges. */
static bool
s_chars_ok (const char *text, const char *set)
{
    for (; *text; text++) {
        bool ok = false;
        for (const char *at = set; *at && !ok; at++)
            if (at [1] == '-' && at [2]) {
                ok = *text >= at [0] && *text <= at [2];
                at += 2;
            }
            else
                ok = *text == *at;
        if (!ok)
            return false;
    }
    return true;
}

/* Whether field holds a whole number (a time is given as RFC 3339 text instead). */
static bool
s_integer_field (const ProtobufCFieldDescriptor *field)
{
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
            return !pb_json_is_time (field);
        default:
            return false;
    }
}

/* Checks one value given for rule's field at path; a null for a SVC_FIELD_ZERO_NULL number
   becomes 0 (*replace set to it). A number given as anything but a number is named with the
   rule's range or values, not the codec's range of its type. */
static void
s_check_value (const svc_field_t *rule, const ProtobufCFieldDescriptor *field, json_t *value,
               const char *path, json_t **replace, pb_json_errors_t *errors)
{
    if (json_is_null (value)) {
        if (rule->flags & SVC_FIELD_NOT_NULL)
            pb_json_error (errors, path, "must not be null");
        else
        if (rule->absent)
            *replace = json_loads (rule->absent, JSON_DECODE_ANY, NULL);
        else
        if (rule->flags & SVC_FIELD_ZERO_NULL)
            *replace = json_integer (0);
        else
        if (rule->max_chars && !(rule->flags & SVC_FIELD_EMPTY_OK))
            pb_json_error (errors, path, "must not be null");
        return;
    }
    if (s_integer_field (field) && !json_is_integer (value)) {
        char alternatives [192];
        if (rule->one_of) {
            s_alternatives (rule->one_of, alternatives, sizeof alternatives);
            pb_json_error (errors, path, "must be %s", alternatives);
        }
        else
        if (rule->min < rule->max)
            pb_json_error (errors, path, "must be an integer from %lld to %lld",
                           (long long) rule->min, (long long) rule->max);
        return;                         /* else the codec names its type */
    }
    if (json_is_string (value)) {
        const char *text = json_string_value (value);
        size_t characters = 0;
        for (const char *at = text; *at; at++)
            characters += ((unsigned char) *at & 0xC0) != 0x80;
        bool empty_ok = (rule->flags & SVC_FIELD_EMPTY_OK) != 0;
        if (!*text && empty_ok)
            return;
        if (rule->max_chars && characters == 0)
            pb_json_error (errors, path, "must not be empty");
        else
        if (rule->max_chars && characters > (size_t) rule->max_chars)
            pb_json_error (errors, path, "must be at most %d characters", rule->max_chars);
        else
        if (rule->one_of && !s_listed (rule->one_of, text, NULL)) {
            char alternatives [192];
            s_alternatives (rule->one_of, alternatives, sizeof alternatives);
            pb_json_error (errors, path, "must be one of %s", alternatives);
        }
        else
        if (rule->chars && !s_chars_ok (text, rule->chars))
            pb_json_error (errors, path, "may only contain %s", rule->chars);
    }
    else
    if (json_is_integer (value) && rule->one_of) {
        char number [24], alternatives [192];
        snprintf (number, sizeof number, "%lld", (long long) json_integer_value (value));
        s_alternatives (rule->one_of, alternatives, sizeof alternatives);
        if (!s_listed (rule->one_of, number, NULL))
            pb_json_error (errors, path, "must be %s", alternatives);
    }
    else
    if (json_is_integer (value) && rule->min < rule->max
    &&  (json_integer_value (value) < rule->min || json_integer_value (value) > rule->max)) {
        if (!(rule->flags & SVC_FIELD_ZERO_NULL) || json_integer_value (value) != 0)
            pb_json_error (errors, path, "must be an integer from %lld to %lld",
                           (long long) rule->min, (long long) rule->max);
    }
}

/* Checks object's values against the rules of descriptor's fields, into nested messages;
   nested objects must have their required keys. With defaults, a key not given takes its
   rule's value for an absent one. */
static void
s_check_fields (const svc_http_t *http, const ProtobufCMessageDescriptor *descriptor,
                json_t *object, const char *path, bool defaults, pb_json_errors_t *errors)
{
    const char *key;
    json_t *value;
    void *next;
    json_object_foreach_safe (object, next, key, value) {
        const ProtobufCFieldDescriptor *field = pb_json_field (descriptor, key);
        if (!field)
            continue;                   /* the codec names it */
        char inner [PB_JSON_FIELD_MAX];
        snprintf (inner, sizeof inner, "%s%s%s", path, *path? ".": "", key);
        const svc_field_t *rule = s_rule (http, descriptor, field->name);
        json_t *replace = NULL;
        if (rule && (rule->flags & SVC_FIELD_READ_ONLY) && *path) {
            pb_json_error (errors, inner, "is not a field of this request");
            continue;
        }
        if (rule && field->label == PROTOBUF_C_LABEL_REPEATED && json_is_array (value)) {
            size_t i;
            json_t *item;
            json_array_foreach (value, i, item) {
                char at [PB_JSON_FIELD_MAX + 24];
                snprintf (at, sizeof at, "%s[%zu]", inner, i);
                s_check_value (rule, field, item, at, &replace, errors);
            }
        }
        else
        if (rule && field->label != PROTOBUF_C_LABEL_REPEATED)     /* null: none */
            s_check_value (rule, field, value, inner, &replace, errors);
        if (replace)
            json_object_set_new (object, key, replace);
        if (field->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        bool repeated = field->label == PROTOBUF_C_LABEL_REPEATED;
        if (!repeated && json_is_object (value))
            s_check_fields (http, field->descriptor, value, inner, defaults, errors);
        else
        if (repeated && json_is_array (value)) {
            size_t i;
            json_t *item;
            json_array_foreach (value, i, item) {
                char at [PB_JSON_FIELD_MAX + 24];
                snprintf (at, sizeof at, "%s[%zu]", inner, i);
                if (json_is_object (item))
                    s_check_fields (http, field->descriptor, item, at, defaults, errors);
            }
        }
    }
    /* Keys not given: required in a nested object, or taking their default. */
    for (const svc_field_t *rule = http->fields; rule && rule->message; rule++) {
        const ProtobufCFieldDescriptor *field = rule->message == descriptor
            ? protobuf_c_message_descriptor_get_field_by_name (descriptor, rule->field): NULL;
        char name [PB_JSON_FIELD_MAX];
        if (!field || json_object_get (object, pb_json_key (field, name)))
            continue;
        if ((rule->flags & SVC_FIELD_REQUIRED) && *path) {
            char inner [2 * PB_JSON_FIELD_MAX];
            snprintf (inner, sizeof inner, "%s.%s", path, name);
            pb_json_error (errors, inner, "is required");
        }
        else
        if (rule->absent && defaults)
            json_object_set_new (object, name, json_loads (rule->absent, JSON_DECODE_ANY, NULL));
    }
}

/* Checks the body's keys against the route's: unknown and fixed ones, required ones. */
static void
s_check_keys (const svc_route_t *route, const ProtobufCMessageDescriptor *target, json_t *body,
              pb_json_errors_t *errors)
{
    const char *key;
    json_t *value;
    json_object_foreach (body, key, value) {
        if (s_listed (route->keys, key, NULL))
            continue;
        if (pb_json_field (target, key) && strcmp (route->verb, "PATCH") == 0)
            pb_json_error (errors, key, "cannot be changed");
        else
            pb_json_error (errors, key, "is not a field of this request");
    }
    size_t count;
    char **words = s_words (route->keys, &count);
    for (size_t i = 0; i < count; i++) {
        bool required = false;
        s_listed (route->keys, words [i], &required);
        json_t *given = json_object_get (body, words [i]);
        if (required && (!given || json_is_null (given)))
            pb_json_error (errors, words [i], "is required");
    }
    s_words_free (words, count);
}

/* A path or query parameter as the JSON value of its field, or NULL after an error. */
static json_t *
s_param_value (const ProtobufCFieldDescriptor *field, const char *name, const char *text,
               pb_json_errors_t *errors)
{
    char key [PB_JSON_FIELD_MAX];
    if (field->type == PROTOBUF_C_TYPE_INT64 && strcmp (pb_json_key (field, key), field->name) != 0)
        return json_string (text);      /* a time (<x>_ms as <x>): RFC 3339, read by the codec */
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SINT64: {
            char *end;
            errno = 0;
            long long number = strtoll (text, &end, 10);
            if (!*text || *end || errno) {
                pb_json_error (errors, name, "must be an integer");
                return NULL;
            }
            return json_integer (number);
        }
        case PROTOBUF_C_TYPE_BOOL:
            if (strcmp (text, "true") && strcmp (text, "false")) {
                pb_json_error (errors, name, "must be true or false");
                return NULL;
            }
            return json_boolean (strcmp (text, "true") == 0);
        case PROTOBUF_C_TYPE_STRING:
            return json_string (text);
        default:
            pb_json_error (errors, name, "cannot be given in the URL");
            return NULL;
    }
}

/* The field of route's query word for a parameter name, into field: "tag=tags" gives tags
   for tag, "attr.*=attributes" gives attributes for attr.<key> (*rest then <key>, else NULL).
   False when the route takes no such parameter. */
static bool
s_query_field (const svc_route_t *route, const char *name, char *field, size_t size,
               const char **rest)
{
    *rest = NULL;
    for (const char *at = route->query; at && *at; ) {
        at += strspn (at, " ");
        size_t word = strcspn (at, " "), given = strcspn (at, "= ");
        bool prefix = given >= 2 && strncmp (at + given - 2, ".*", 2) == 0;
        size_t length = prefix? given - 1: given;           /* "attr." */
        if (length && strncmp (name, at, length) == 0 && (prefix || name [length] == 0)) {
            if (prefix)
                *rest = name + length;
            const char *target = given < word? at + given + 1: at;
            snprintf (field, size, "%.*s", (int) (given < word? word - given - 1: given), target);
            return true;
        }
        at += word;
    }
    return false;
}

/* Adds a query parameter to input by the route's query words. One without a name (a stray
   '&' in "?&limit=1", or "?=x") is no field's: it is ignored, as browsers' URLSearchParams
   and most servers leave it, rather than refused with an error that could name nothing. */
static void
s_query_param (const svc_http_t *http, const svc_route_t *route, const Kaiin__HttpParam *param,
               json_t *input, pb_json_errors_t *errors)
{
    if (!param->name [0])
        return;
    char name [PB_JSON_FIELD_MAX];
    const char *rest;
    const ProtobufCMessageDescriptor *target = route->input;
    const ProtobufCFieldDescriptor *field = s_query_field (route, param->name, name, sizeof name, &rest)
        ? pb_json_field (target, name): NULL;
    if (!field && route->query_into && s_query_field (route, param->name, name, sizeof name, &rest)) {
        /* a parameter of the message the query fills (an export's filters) */
        const ProtobufCFieldDescriptor *into = pb_json_field (route->input, route->query_into);
        assert (into && into->type == PROTOBUF_C_TYPE_MESSAGE);  /* a declaration's mistake */
        target = into->descriptor;
        field = pb_json_field (target, name);
        json_t *inner = json_object_get (input, route->query_into);
        if (!inner)
            json_object_set_new (input, route->query_into, inner = json_object ());
        input = inner;
    }
    if (!field) {
        pb_json_error (errors, param->name, "is not a query parameter of this route");
        return;
    }
    bool repeated = field->label == PROTOBUF_C_LABEL_REPEATED;
    json_t *given = json_object_get (input, name);
    if (given && !repeated) {
        pb_json_error (errors, param->name, "may be given once");
        return;
    }
    json_t *value;
    if (rest) {
        /* a map entry: {key: <rest>, value: the parameter's} */
        const ProtobufCMessageDescriptor *item = field->descriptor;
        assert (repeated && field->type == PROTOBUF_C_TYPE_MESSAGE
                && item->n_fields >= 2);                    /* a declaration's mistake */
        const ProtobufCFieldDescriptor *key = &item->fields [0];
        if (!*rest) {
            pb_json_error (errors, param->name, "must name a %s: %s<%s>", key->name, param->name,
                           key->name);
            return;
        }
        json_t *entry = s_param_value (&item->fields [1], param->name, param->value, errors);
        if (!entry)
            return;
        char inner [PB_JSON_FIELD_MAX];
        value = json_object ();
        json_object_set_new (value, key->name, json_string (rest));
        json_object_set_new (value, pb_json_key (&item->fields [1], inner), entry);
    }
    else {
        value = s_param_value (field, param->name, param->value, errors);
        if (!value)
            return;
        const svc_field_t *rule = s_rule (http, target, field->name);
        json_t *replace = NULL;
        if (rule)
            s_check_value (rule, field, value, param->name, &replace, errors);
        if (replace) {
            json_decref (value);
            value = replace;
        }
    }
    if (!repeated)
        json_object_set_new (input, name, value);
    else {
        if (!given)
            json_object_set_new (input, name, given = json_array ());
        json_array_append_new (given, value);
    }
}

/* Sets the path's and the query's parameters into input, each as its field's value. */
static void
s_params (const svc_http_t *http, const svc_route_t *route, const Kaiin__HttpRequest *in,
          json_t *input, pb_json_errors_t *errors)
{
    for (size_t i = 0; i < in->n_params; i++) {
        const Kaiin__HttpParam *param = in->params [i];
        if (param->query) {
            s_query_param (http, route, param, input, errors);
            continue;
        }
        const char *name = param->name;
        char renamed [PB_JSON_FIELD_MAX] = "";
        size_t length = strlen (name);
        for (const char *at = route->path_fields; at && *at; at += strcspn (at, " "), at += strspn (at, " "))
            if (strncmp (at, name, length) == 0 && at [length] == '=')
                snprintf (renamed, sizeof renamed, "%.*s", (int) strcspn (at + length + 1, " "), at + length + 1);
        if (*renamed)
            name = renamed;
        const ProtobufCFieldDescriptor *field = pb_json_field (route->input, name);
        if (!field) {
            pb_json_error (errors, name, "is not a field of this request");
            continue;
        }
        json_t *value = s_param_value (field, name, param->value, errors);
        if (value)
            json_object_set_new (input, name, value);
    }
}

/* Adds more's errors to errors: one reason a field, the first found. A field of more under
   prefix ("plan." for a route's body field) is the same as one without it. */
static void
s_merge (pb_json_errors_t *errors, const pb_json_errors_t *more, const char *prefix)
{
    size_t length = prefix? strlen (prefix): 0;
    for (size_t i = 0; i < more->count; i++) {
        const char *field = more->list [i].field, *bare = field;
        if (length && strncmp (field, prefix, length) == 0 && field [length] == '.')
            bare = field + length + 1;
        bool named = false;
        for (size_t j = 0; j < errors->count && !named; j++)
            named = strcmp (errors->list [j].field, field) == 0
                 || strcmp (errors->list [j].field, bare) == 0;
        if (!named)
            pb_json_error_copy (errors, bare, &more->list [i]);
    }
    errors->truncated |= more->truncated;
}

/* Sets the route's fixed fields ("action=pay") into input. */
static void
s_fixed (const svc_route_t *route, json_t *input, pb_json_errors_t *errors)
{
    size_t count;
    char **words = s_words (route->fixed, &count);
    for (size_t i = 0; i < count; i++) {
        char *value = strchr (words [i], '=');
        assert (value);                 /* a declaration's mistake */
        *value++ = 0;
        const ProtobufCFieldDescriptor *field = pb_json_field (route->input, words [i]);
        assert (field);
        json_t *given = s_param_value (field, words [i], value, errors);
        if (given)
            json_object_set_new (input, words [i], given);
    }
    s_words_free (words, count);
}

/* Reads the objects body gives under the .key of descriptor's SVC_FIELD_JSON fields into
   those fields, as their text. */
static void
s_json_keys (const svc_http_t *http, const ProtobufCMessageDescriptor *descriptor, json_t *body,
             pb_json_errors_t *errors)
{
    for (const svc_field_t *rule = http->fields; rule && rule->message; rule++) {
        json_t *given = rule->message == descriptor && (rule->flags & SVC_FIELD_JSON) && rule->key
            ? json_object_get (body, rule->key): NULL;
        if (!given)
            continue;
        if (json_is_object (given)) {
            char *text = json_dumps (given, JSON_COMPACT);
            assert (text);
            json_object_set_new (body, rule->field, json_string (text));
            free (text);
        }
        else
            pb_json_error (errors, rule->key, "must be a JSON object");
        json_object_del (body, rule->key);
    }
}

/* Reads the JSON body into input: into the route's body field, or as input itself. */
static void
s_body (const svc_http_t *http, const svc_route_t *route, const ProtobufCBinaryData *sent,
        json_t *input, pb_json_errors_t *errors)
{
    const ProtobufCFieldDescriptor *body_field = route->body? pb_json_field (route->input, route->body): NULL;
    const ProtobufCMessageDescriptor *target = body_field? body_field->descriptor: route->input;
    json_error_t error;
    /* No body at all: an empty object, for a route that requires no key. */
    json_t *body = sent->len? json_loadb ((const char *) sent->data, sent->len, JSON_REJECT_DUPLICATES, &error)
                 : strchr (route->keys, '!')? NULL: json_object ();
    if (!body && !sent->len)
        pb_json_error (errors, "body", "must be a JSON object");
    else
    if (!body)
        pb_json_error (errors, "body", "is not valid JSON: %s at line %d, column %d",
                       error.text, error.line, error.column);
    else
    if (!json_is_object (body))
        pb_json_error (errors, "body", "must be a JSON object");
    else {
        s_check_keys (route, target, body, errors);
        /* An update's mask: the keys given. */
        const ProtobufCFieldDescriptor *mask = pb_json_field (route->input, "update_mask");
        if (mask && !s_listed (route->keys, "update_mask", NULL)) {
            json_t *keys = json_array ();
            const char *key;
            json_t *value;
            json_object_foreach (body, key, value)
                json_array_append_new (keys, json_string (key));
            json_object_set_new (input, "update_mask", keys);
        }
        s_json_keys (http, target, body, errors);
        s_check_fields (http, target, body, "", !body_field && !mask, errors);
        if (body_field)
            json_object_set (input, route->body, body);
        else
            json_object_update (input, body);
    }
    json_decref (body);
}

/* Reads a body of one item or many (route->many) into the input's repeated route->body field:
   each item is checked as a body of its own, its errors named "<key>" for one and
   "<many>[i].<key>" for many. */
static void
s_body_items (const svc_http_t *http, const svc_route_t *route, const ProtobufCBinaryData *sent,
              json_t *input, pb_json_errors_t *errors)
{
    const ProtobufCFieldDescriptor *field = pb_json_field (route->input, route->body);
    assert (field && field->label == PROTOBUF_C_LABEL_REPEATED
            && field->type == PROTOBUF_C_TYPE_MESSAGE);          /* a declaration's mistake */
    json_t *body = json_loadb ((const char *) sent->data, sent->len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object (body)) {
        pb_json_error (errors, "body", "must be a JSON object");
        json_decref (body);
        return;
    }
    json_t *many = json_object_get (body, route->many), *items;
    if (many) {
        const char *key;
        json_t *value;
        json_object_foreach (body, key, value)
            if (strcmp (key, route->many) != 0)
                pb_json_error (errors, key, "is not a field of this request");
        if (!json_is_array (many))
            pb_json_error (errors, route->many, "must be an array");
        items = json_is_array (many)? json_incref (many): json_array ();
    }
    else
        items = json_pack ("[O]", body);
    size_t index;
    json_t *item;
    json_array_foreach (items, index, item) {
        char prefix [PB_JSON_FIELD_MAX] = "";
        if (many)
            snprintf (prefix, sizeof prefix, "%s[%zu]", route->many, index);
        if (!json_is_object (item)) {
            pb_json_error (errors, prefix, "must be a JSON object");
            continue;
        }
        pb_json_errors_t found = { .japanese = errors->japanese }, codec;
        s_check_keys (route, field->descriptor, item, &found);
        s_json_keys (http, field->descriptor, item, &found);
        s_check_fields (http, field->descriptor, item, "", false, &found);
        ProtobufCMessage *message = pb_json_to_message_in (field->descriptor, item, &codec,
                                                           errors->japanese);
        if (message)
            protobuf_c_message_free_unpacked (message, NULL);
        s_merge (&found, &codec, NULL);
        for (size_t i = 0; i < found.count; i++) {
            char name [2 * PB_JSON_FIELD_MAX];
            snprintf (name, sizeof name, "%s%s%s", prefix, *prefix? ".": "", found.list [i].field);
            pb_json_error_copy (errors, name, &found.list [i]);
        }
    }
    json_object_set_new (input, route->body, items);
    if (pb_json_field (route->input, "batch"))
        json_object_set_new (input, "batch", json_boolean (many != NULL));
    json_decref (body);
}

bool
svc_http_gave_one (const svc_route_t *route, const Kaiin__Request *envelope)
{
    if (!route->many || !envelope->http)
        return false;
    json_t *body = json_loadb ((const char *) envelope->http->body.data, envelope->http->body.len, 0, NULL);
    bool one = !json_object_get (body, route->many);
    json_decref (body);
    return one;
}

/* Sets route's raw bytes field of message to the body as sent. */
static void
s_raw (const svc_route_t *route, ProtobufCMessage *message, const ProtobufCBinaryData *sent)
{
    const ProtobufCFieldDescriptor *field = pb_json_field (route->input, route->raw);
    assert (field && field->type == PROTOBUF_C_TYPE_BYTES);
    ProtobufCBinaryData *bytes = (ProtobufCBinaryData *) ((char *) message + field->offset);
    bytes->data = malloc (sent->len + 1);
    assert (bytes->data);
    if (sent->len)                      /* an empty body's data may be NULL */
        memcpy (bytes->data, sent->data, sent->len);
    bytes->len = sent->len;
}

int
svc_http_read (const svc_http_t *http, const svc_route_t *route, Kaiin__Request *envelope,
               pb_json_errors_t *errors)
{
    bool japanese = strcmp (envelope->language, "ja") == 0;
    memset (errors, 0, sizeof *errors);
    errors->japanese = japanese;
    pb_json_errors_t found = { .japanese = japanese };
    const Kaiin__HttpRequest *in = envelope->http;
    json_t *input = json_object ();
    if (route->many)
        s_body_items (http, route, &in->body, input, &found);
    else
    if (route->keys && !route->raw)
        s_body (http, route, &in->body, input, &found);
    s_params (http, route, in, input, &found);
    s_fixed (route, input, &found);
    if (route->caller)
        json_object_set_new (input, route->caller, json_string (envelope->caller_id));
    if (route->streamed) {
        json_object_set_new (input, "upload", json_string (in->upload));
        json_object_set_new (input, "more", json_boolean (in->more));
    }
    if (route->paged)
        json_object_set_new (input, "page", json_string (in->page));
    s_merge (errors, &found, NULL);
    if (route->many && errors->count) {
        json_decref (input);            /* each item's errors are named already */
        return -1;
    }
    if (route->if_match && in->has_if_version)
        json_object_set_new (input, "if_version", json_integer (in->if_version));
    /* The codec too, so that a wrong type is named beside a missing key. */
    pb_json_errors_t codec;
    ProtobufCMessage *message = pb_json_to_message_in (route->input, input, &codec, japanese);
    s_merge (errors, &codec, route->body);
    json_decref (input);
    if (message && errors->count)
        protobuf_c_message_free_unpacked (message, NULL);
    if (!message || errors->count)
        return -1;
    if (route->raw)
        s_raw (route, message, &in->body);
    free (envelope->payload.data);
    envelope->payload.len = protobuf_c_message_get_packed_size (message);
    envelope->payload.data = malloc (envelope->payload.len + 1);
    assert (envelope->payload.data);
    protobuf_c_message_pack (message, envelope->payload.data);
    protobuf_c_message_free_unpacked (message, NULL);
    return 0;
}

/* The value of a SVC_FIELD_JSON string: the JSON its text holds, or null. */
static json_t *
s_json_text (json_t *value)
{
    json_t *held = json_is_string (value)
        ? json_loads (json_string_value (value), JSON_DECODE_ANY, NULL): NULL;
    return held? held: json_null ();
}

/* Shapes object as the rules of descriptor's fields say a reply shows it, into nested
   messages: hidden fields out, zeros that mean "none" null, "" kept where shown, JSON text
   as its value, keys renamed. */
static void
s_shape (const svc_http_t *http, const ProtobufCMessageDescriptor *descriptor, json_t *object)
{
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields [i];
        char key [PB_JSON_FIELD_MAX];
        pb_json_key (field, key);
        json_t *value = json_object_get (object, key);
        const svc_field_t *rule = s_rule (http, descriptor, field->name);
        unsigned flags = rule? rule->flags: 0;
        if ((flags & SVC_FIELD_HIDDEN)
        ||  ((flags & SVC_FIELD_OMIT_EMPTY) && (json_is_null (value) || !value))) {
            json_object_del (object, key);
            continue;
        }
        if ((flags & SVC_FIELD_ZERO_NULL) && json_is_integer (value) && json_integer_value (value) == 0)
            json_object_set_new (object, key, json_null ());
        if ((flags & SVC_FIELD_EMPTY_SHOWN) && json_is_null (value)
        &&  field->type == PROTOBUF_C_TYPE_STRING && field->label != PROTOBUF_C_LABEL_REPEATED)
            json_object_set_new (object, key, json_string (""));
        if (flags & SVC_FIELD_JSON)
            json_object_set_new (object, key, s_json_text (value));
        value = json_object_get (object, key);
        if (field->type == PROTOBUF_C_TYPE_MESSAGE && json_is_object (value))
            s_shape (http, field->descriptor, value);
        else
        if (field->type == PROTOBUF_C_TYPE_MESSAGE && json_is_array (value)) {
            size_t index;
            json_t *item;
            json_array_foreach (value, index, item)
                s_shape (http, field->descriptor, item);
        }
        if (rule && rule->key && value) {
            json_object_set (object, rule->key, value);
            json_object_del (object, key);
        }
    }
}

/* The route's reply_body field of message, as it is, in a new buffer. */
static char *
s_reply_body (const svc_route_t *route, const ProtobufCMessage *message, size_t *size)
{
    const ProtobufCFieldDescriptor *field = pb_json_field (route->output, route->reply_body);
    assert (field && field->label != PROTOBUF_C_LABEL_REPEATED
            && (field->type == PROTOBUF_C_TYPE_BYTES || field->type == PROTOBUF_C_TYPE_STRING));
    const void *at = (const char *) message + field->offset;
    const ProtobufCBinaryData *bytes = at;
    const char *text = field->type == PROTOBUF_C_TYPE_STRING? *(const char *const *) at: NULL;
    *size = text? strlen (text): bytes->len;
    char *body = malloc (*size + 1);
    assert (body);
    memcpy (body, text? (const void *) text: bytes->data, *size);
    body [*size] = 0;
    return body;
}

char *
svc_http_next_page (const svc_route_t *route, const uint8_t *payload, size_t payload_size)
{
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field_by_name (
        route->output, "next_page");
    assert (field && field->type == PROTOBUF_C_TYPE_STRING && field->label != PROTOBUF_C_LABEL_REPEATED);
    ProtobufCMessage *message = protobuf_c_message_unpack (route->output, NULL, payload_size, payload);
    if (!message)
        return NULL;
    const char *value = *(const char *const *) ((const char *) message + field->offset);
    char *next = strdup (value? value: "");
    protobuf_c_message_free_unpacked (message, NULL);
    return next;
}

char *
svc_http_write_text (const svc_route_t *route, const uint8_t *payload, size_t payload_size,
                     size_t *size, const char **type)
{
    if (!route->text)
        return NULL;
    const char *space = strchr (route->text, ' ');
    assert (space);                     /* "field media/type": a declaration's mistake */
    char name [64];
    snprintf (name, sizeof name, "%.*s", (int) (space - route->text), route->text);
    const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field_by_name (
        route->output, name);
    assert (field && field->type == PROTOBUF_C_TYPE_STRING && field->label != PROTOBUF_C_LABEL_REPEATED);
    ProtobufCMessage *message = protobuf_c_message_unpack (route->output, NULL, payload_size, payload);
    if (!message)
        return NULL;
    const char *value = *(const char *const *) ((const char *) message + field->offset);
    char *text = value && *value? strdup (value): NULL;
    protobuf_c_message_free_unpacked (message, NULL);
    *size = text? strlen (text): 0;
    if (text)                           /* else the reply is the route's JSON, typed as such */
        *type = space + 1;
    return text;
}

char *
svc_http_write (const svc_http_t *http, const svc_route_t *route, bool one,
                const uint8_t *payload, size_t payload_size, size_t *size, char etag [32])
{
    *etag = 0;
    ProtobufCMessage *message = protobuf_c_message_unpack (route->output, NULL, payload_size, payload);
    if (!message)
        return NULL;
    if (route->reply_body) {
        char *text = s_reply_body (route, message, size);
        protobuf_c_message_free_unpacked (message, NULL);
        return text;
    }
    const ProtobufCMessage *shown = message;
    if (route->response) {
        const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field_by_name (
            route->output, route->response);
        assert (field && field->type == PROTOBUF_C_TYPE_MESSAGE
                && field->label != PROTOBUF_C_LABEL_REPEATED);     /* a declaration's mistake */
        shown = *(const ProtobufCMessage *const *) ((const char *) message + field->offset);
        if (!shown) {
            protobuf_c_message_free_unpacked (message, NULL);
            return NULL;
        }
    }
    if (one) {
        const ProtobufCFieldDescriptor *field = protobuf_c_message_descriptor_get_field_by_name (
            route->output, route->body);
        assert (field && field->type == PROTOBUF_C_TYPE_MESSAGE
                && field->label == PROTOBUF_C_LABEL_REPEATED);     /* a declaration's mistake */
        size_t count = *(const size_t *) ((const char *) message + field->quantifier_offset);
        if (count == 0) {
            protobuf_c_message_free_unpacked (message, NULL);
            return NULL;
        }
        shown = (*(const ProtobufCMessage *const *const *) ((const char *) message + field->offset)) [0];
    }
    const ProtobufCMessageDescriptor *descriptor = shown->descriptor;
    const ProtobufCFieldDescriptor *version = protobuf_c_message_descriptor_get_field_by_name (
        descriptor, "version");
    if (version && version->type == PROTOBUF_C_TYPE_INT64 && version->label != PROTOBUF_C_LABEL_REPEATED)
        snprintf (etag, 32, "\"%lld\"", (long long) *(const int64_t *)
                  ((const char *) shown + version->offset));
    json_t *body = pb_json_from_message (shown);
    protobuf_c_message_free_unpacked (message, NULL);
    s_shape (http, descriptor, body);
    char *text = json_dumps (body, JSON_COMPACT);
    json_decref (body);
    *size = text? strlen (text): 0;
    return text;
}
