/* billing_json.h - billing's JSON at the gateway: strict readers for request fields, the
   billing messages as JSON (times as RFC 3339 without "_ms"), replies and list queries */
#ifndef KAIIN_BILLING_JSON_H
#define KAIIN_BILLING_JSON_H
#include "http.h"
#include "billing.pb-c.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define BILLING_JSON_MONEY_MAX 1000000000000LL     /* 10^12 yen: no amount is larger */
#define BILLING_JSON_LIST_MAX  100                 /* no array in a request is longer */

/* Where fields are read from: an object, the prefix that names its fields in errors ("" at
   the top, "lines[2]" inside an array), and the errors collected (borrowed). */
typedef struct {
    json_t *object;
    const char *prefix;
    json_t *errors;
} billing_json_in_t;

/* Adds an error naming key (after the prefix) to in->errors. */
void billing_json_error (billing_json_in_t *in, const char *key, const char *reason);

/* Adds an error for every key not in allowed, and "cannot be changed" for every key in
   read_only (both NULL-terminated; read_only may be NULL). */
void billing_json_known (billing_json_in_t *in, const char *const *allowed, const char *const *read_only);

/* How much a text field must be there: OPTIONAL takes missing, null and "" (all as "");
   NONEMPTY may be missing, but when given is a string that is not empty; REQUIRED must be
   given and not empty. */
typedef enum { BILLING_JSON_OPTIONAL, BILLING_JSON_NONEMPTY, BILLING_JSON_REQUIRED } billing_json_need_t;

/* Reads key as text of at most max_chars characters, as need says (else an error). *present
   tells whether the key was given. Returns a string borrowed from the object, "" when absent,
   null or wrong. */
const char *billing_json_text (billing_json_in_t *in, const char *key, billing_json_need_t need,
                               size_t max_chars, bool *present);

/* Reads key as one of values (NULL-terminated), as billing_json_text reads text; "" is not
   one of them. */
const char *billing_json_enum (billing_json_in_t *in, const char *key, const char *const *values,
                               billing_json_need_t need, bool *present);

/* Reads key as an integer from min to max into *value. Returns true when it was given and
   valid; missing leaves *value (an error when required); null and other types are errors. */
bool billing_json_int (billing_json_in_t *in, const char *key, int64_t min, int64_t max,
                       bool required, int64_t *value);

/* Reads key as a consumption tax rate, 10 or 8 (or 0 when zero_ok), into *value; returns true
   when given and valid. */
bool billing_json_tax_rate (billing_json_in_t *in, const char *key, bool zero_ok, int32_t *value);

/* Reads key as true or false into *value; returns true when given. */
bool billing_json_bool (billing_json_in_t *in, const char *key, protobuf_c_boolean *value);

/* Reads key as an RFC 3339 time into *unix_ms (null: 0); returns true when given. */
bool billing_json_time (billing_json_in_t *in, const char *key, int64_t *unix_ms);

/* Reads key as an array of at most max strings of 1 to max_chars characters into items
   (room for max), borrowed from the object. Returns how many (0 when missing or null). */
size_t billing_json_strings (billing_json_in_t *in, const char *key, size_t max, size_t max_chars,
                             char **items);

/* Reads key as an array of min to max objects. Returns it (borrowed), or NULL when missing,
   null (an error when min > 0) or wrong. */
json_t *billing_json_objects (billing_json_in_t *in, const char *key, size_t min, size_t max);

/* Sends message to the billing service as "billing.<method>" (http_call). */
void billing_json_call (http_request_t *request, const char *method, const ProtobufCMessage *message,
                        http_reply_fn *on_reply);

/* Answers 400 naming every field in errors when it holds any, else makes the call; takes
   errors either way. */
void billing_json_call_checked (http_request_t *request, json_t *errors, const char *method,
                                const ProtobufCMessage *message, http_reply_fn *on_reply);

/* The billing message as the API's JSON (a new reference), for every message a billing route
   answers with. */
json_t *billing_json_of (const ProtobufCMessage *message);

/* Answers a service's reply carrying one message of descriptor's type: ETag from its
   "version" when it has one, and on 201 Location "<location>/<id>". */
void billing_json_respond (http_request_t *request, const ProtobufCBinaryData *payload,
                           const ProtobufCMessageDescriptor *descriptor, unsigned int status,
                           const char *location);

/* Answers a service's list reply ({repeated data = 1; string next_cursor = 2}, the cursor
   optional) as {"data": [...], "next_cursor": ... or null}. */
void billing_json_respond_list (http_request_t *request, const ProtobufCBinaryData *payload,
                                const ProtobufCMessageDescriptor *descriptor);

/* Reads a list route's query into list: the parameters named in params (NULL-terminated, of
   member_id, status, subscription_id, invoice_id, limit, cursor), each at most once; status
   must be one of statuses. Values are borrowed from the request. Returns 0, or -1 after
   answering 400 naming each bad parameter. */
int billing_json_list_query (http_request_t *request, Kaiin__Billing__ListRequest *list,
                             const char *const *params, const char *const *statuses);

/* Parses the request's body as a JSON object (application/json); an empty body is {} when
   allow_empty. Returns a new reference, or NULL after answering 400 or 415. */
json_t *billing_json_body (http_request_t *request, bool allow_empty);

#endif
