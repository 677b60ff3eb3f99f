/* json_in.h - strict reading of the JSON bodies of the gateway's own routes (the test clock)
   and media types */
#ifndef KAIIN_JSON_IN_H
#define KAIIN_JSON_IN_H
#include "http.h"
#include <jansson.h>
#include <stdbool.h>

/* Parses the request's body as a JSON object, after checking its Content-Type is one of
   media_types (NULL-terminated). An empty body gives an empty object when allow_empty.
   Returns a new reference, or NULL after answering 400 (field "body") or 415. */
json_t *json_in_object (http_request_t *request, const char *const *media_types, bool allow_empty);

/* True when a Content-Type's media type (parameters aside) is one of media_types. */
bool json_in_media_type_ok (const char *content_type, const char *const *media_types);

/* Adds an error to errors for every key of object not in allowed (NULL-terminated). */
void json_in_known_keys (json_t *object, const char *const *allowed, json_t *errors);

/* Reads key as a string. Missing gives "" and *present false; null gives "" when nullable
   (else an error). A value of another type adds an error. Returns a borrowed string. */
const char *json_in_string (json_t *object, const char *key, bool nullable, bool *present,
                            json_t *errors);

/* Appends {"field": field, "reason": reason} to errors. */
void json_in_error (json_t *errors, const char *field, const char *reason);

/* Answers 400 naming every field in errors when it holds any (and takes errors either way).
   Returns true when it answered. */
bool json_in_rejected (http_request_t *request, json_t *errors);

/* An RFC 3339 time, or null for 0. */
json_t *json_in_time_or_null (int64_t unix_ms);

#endif
