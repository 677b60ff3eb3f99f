/* json_in.c - strict reading of JSON request bodies: an object, known keys, the right types */
#include "json_in.h"
#include "clock.h"
#include <ctype.h>
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <strings.h>

void
json_in_error (json_t *errors, const char *field, const char *reason)
{
    json_array_append_new (errors, json_pack ("{s:s, s:s}", "field", field, "reason", reason));
}

bool
json_in_media_type_ok (const char *content_type, const char *const *media_types)
{
    if (!content_type)
        return false;
    size_t length = strcspn (content_type, "; \t");
    for (const char *const *type = media_types; *type; type++)
        if (strlen (*type) == length && strncasecmp (content_type, *type, length) == 0)
            return true;
    return false;
}

json_t *
json_in_object (http_request_t *request, const char *const *media_types, bool allow_empty)
{
    if (request->body_size == 0 && allow_empty)
        return json_object ();
    if (!json_in_media_type_ok (http_header (request, "Content-Type"), media_types)) {
        char detail [160];
        snprintf (detail, sizeof detail, "the body must be sent as %s", media_types [0]);
        http_problem (request, 415, detail, NULL, NULL);
        return NULL;
    }
    json_error_t error;
    json_t *body = request->body_size
        ? json_loadb (request->body, request->body_size, JSON_REJECT_DUPLICATES, &error): NULL;
    if (!body || !json_is_object (body)) {
        char reason [200];
        if (!request->body_size)
            snprintf (reason, sizeof reason, "must be a JSON object");
        else
        if (!body)
            snprintf (reason, sizeof reason, "is not valid JSON: %s at line %d, column %d",
                      error.text, error.line, error.column);
        else
            snprintf (reason, sizeof reason, "must be a JSON object");
        http_problem (request, 400, "the request has invalid fields",
                      json_pack ("[{s:s, s:s, s:s}]", "field", "body", "code",
                                 body || !request->body_size? "not_object": "invalid_json", "reason", reason),
                      NULL);
        json_decref (body);
        return NULL;
    }
    return body;
}

void
json_in_known_keys (json_t *object, const char *const *allowed, json_t *errors)
{
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value) {
        const char *const *name = allowed;
        while (*name && strcmp (*name, key) != 0)
            name++;
        if (!*name)
            json_in_error (errors, key, "is not a field of this request");
    }
}

const char *
json_in_string (json_t *object, const char *key, bool nullable, bool *present, json_t *errors)
{
    json_t *value = json_object_get (object, key);
    *present = value != NULL;
    if (!value)
        return "";
    if (json_is_null (value)) {
        if (!nullable)
            json_in_error (errors, key, "must not be null");
        return "";
    }
    if (!json_is_string (value)) {
        json_in_error (errors, key, "must be a string");
        return "";
    }
    if (strlen (json_string_value (value)) != json_string_length (value)) {
        json_in_error (errors, key, "must not contain NUL characters");
        return "";
    }
    return json_string_value (value);
}

bool
json_in_rejected (http_request_t *request, json_t *errors)
{
    if (json_array_size (errors) == 0) {
        json_decref (errors);
        return false;
    }
    http_problem (request, 400, "the request has invalid fields", errors, NULL);
    return true;
}

json_t *
json_in_time_or_null (int64_t unix_ms)
{
    char stamp [40];
    return unix_ms? json_string (clock_format_ms (unix_ms, stamp, sizeof stamp)): json_null ();
}
