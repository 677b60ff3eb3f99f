/* svc_http.h - a service's HTTP face, declared next to its methods: its routes, the
   permissions that guard them, the rules of its fields. The runtime announces them to the
   gateway (which serves a route as soon as it is announced), reads a route's JSON, path and
   query into the method's request message, and answers in JSON (docs/architecture.md, "One
   gateway for every service"). */
#ifndef KAIIN_SVC_HTTP_H
#define KAIIN_SVC_HTTP_H
#include "api.pb-c.h"
#include "envelope.pb-c.h"
#include "pb_json.h"
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A route's permission when no token is needed at all (a provider's webhook). */
#define SVC_OPEN NULL

typedef struct {
    const char *verb;                 /* "GET", "POST", "PATCH", "DELETE" */
    const char *path;                 /* "/v1/plans/{id}": {name} fills the input's field name */
    const char *method;               /* the method table's name: "PlanGet" */
    const ProtobufCMessageDescriptor *input, *output;
    const char *permission;           /* SVC_OPEN, "" for any signed-in caller, or a name from
                                         the service's permissions */
    Kaiin__MemberRule member;         /* what a member's own session may do (api.proto) */
    const char *body;                 /* NULL: the JSON body is the input itself; else the
                                         name of the input's message field it fills (then an
                                         "update_mask" field of the input gets its keys) */
    const char *keys;                 /* the body's keys, space-separated, "!" after a required
                                         one: "code! name! amount! currency"; NULL: no body */
    const char *query;                /* the query parameters, space-separated, each a field of
                                         the input, or name=field for a field of another name:
                                         "status tag=tags". A repeated field's parameter may be
                                         given more than once (an item each time). "attr.*=
                                         attributes" takes every attr.<key> into an item of a
                                         repeated message field whose first field is the key
                                         and second the value, read as its type (a map entry) */
    int status;                       /* on success: 0 for 200, or 201 */
    const char *location;             /* 201: "/v1/plans/{id}", {id} from the reply */
    bool if_match;                    /* If-Match: "N" fills the input's if_version */
    size_t max_body;                  /* bytes; 0: the gateway's default */
    const char *fixed;                /* the input's fields the route sets: "action=pay" */
    const char *path_fields;          /* a path's {name} filling a field of another name:
                                         "id=member_id" */
    const char *headers;              /* headers into fields: "Kaiin-Timestamp=timestamp" */
    const char *raw;                  /* the bytes field the body fills as sent (no JSON) */
    const char *response;             /* NULL: the reply is the output; else the name of the
                                         output's message field that is the reply (its ETag
                                         from that message's version), as google.api.http's
                                         response_body: "message" */
    const char *caller;               /* the input's field the caller's id fills: a member's
                                         own route, "member_id" */
    const char *signs_in;             /* "staff" or "member": a login (the handler names the
                                         session with svc_reply_session_start) */
    const char *reply_body;           /* a reply that is not JSON: the output's bytes or
                                         string field sent as it is, ... */
    const char *content_type;         /* ... of this media type: "text/csv; charset=utf-8" */
    const char *accepts;              /* a raw body's media types: "text/csv text/plain" */
    bool streamed;                    /* the raw body comes in slices, never whole (a file up
                                         to max_body): a call a slice, in order, each after
                                         the last one's reply; the input's string field
                                         "upload" is "" on the first and then the "id" of the
                                         first's reply, its bool "more" true but on the last.
                                         A reply with more to come is not sent to the client */
    bool paged;                       /* the reply_body comes in pages (a file of a million
                                         rows): a call a page, the input's string field "page"
                                         "" on the first and then the output's string field
                                         "next_page" of the page before, until it is ""; the
                                         gateway sends each page on as it comes, never holding
                                         more than one. The first reply's status and headers
                                         are the response's; a later error cuts it short */
    int timeout_ms;                   /* the route's deadline, when not the gateway's default */
    const char *many;                 /* a body of one item or many: one item of the input's
                                         repeated .body field, or {"<many>": [items]} (then
                                         an input field "batch" is set); the reply shows that
                                         field's one item, or the whole output: "events" */
    const char *problems;             /* more statuses it may answer as problems, besides those
                                         every route of its kind may: "422" (an import refused) */
    const char *query_into;           /* the input's message field that the query parameters
                                         the input has no field for fill (an export's filters:
                                         "query") */
    const char *text;                 /* NULL, or "field media/type": when the output's string
                                         field is not empty, it is the whole reply as it is,
                                         with that Content-Type (a CSV export) */
} svc_route_t;

typedef struct {
    const char *name;                 /* "billing.read" */
    const char *roles;                /* the staff roles holding it: "owner admin finance" */
} svc_permission_t;

enum {
    SVC_FIELD_HIDDEN = 1 << 0,        /* never in a reply (a provider's token) */
    SVC_FIELD_ZERO_NULL = 1 << 1,     /* a number: 0 means "none", shown and read as null */
    SVC_FIELD_EMPTY_OK = 1 << 2,      /* a string with max_chars: "" (or null) is allowed */
    SVC_FIELD_REQUIRED = 1 << 3,      /* in an object inside the body (a line of an invoice):
                                         the key must be given (a route's own keys say "!") */
    SVC_FIELD_READ_ONLY = 1 << 4,     /* in an object inside the body: shown, never taken (a
                                         line's amount; a route's own keys say which it takes) */
    SVC_FIELD_EMPTY_SHOWN = 1 << 5,   /* a string: "" is shown as "" in a reply, not as null */
    SVC_FIELD_JSON = 1 << 6,          /* a string of JSON text: shown in a reply as the value it
                                         holds (null when it holds none or no JSON); with .key,
                                         read from a JSON object a body gives under that key
                                         (anything else: "must be a JSON object") */
    SVC_FIELD_NOT_NULL = 1 << 7,      /* a body's key that may be left out but not given null */
    SVC_FIELD_OMIT_EMPTY = 1 << 8     /* a reply leaves the key out when the field is empty
                                         (a secret shown by one reply only) */
};

/* The rules of one field, whatever route it comes in by. Checked on the JSON as given, for
   the keys given. */
typedef struct {
    const ProtobufCMessageDescriptor *message;
    const char *field;
    unsigned flags;
    int64_t min, max;                 /* numbers, when min < max */
    int max_chars;                    /* strings: 1 to max_chars characters (0: no limit) */
    const char *one_of;               /* strings and numbers: the values allowed, space-separated */
    const char *chars;                /* strings: the ASCII characters allowed, if limited */
    const char *absent;               /* JSON of the value taken when the key is not given in a
                                         body that is the request itself (not an update's), or
                                         is null: "1", "\"JPY\"" */
    const char *key;                  /* the key a reply shows the field under, when not its
                                         own: "data" for a list's items (replies only, but for
                                         SVC_FIELD_JSON) */
} svc_field_t;

/* A description written as a comment in a .proto file, by the full name of what it describes:
   "kaiin.billing.Plan", "kaiin.billing.Plan.code", "kaiin.billing.PlanStatus.ACTIVE". */
typedef struct {
    const char *name;
    const char *text;
} svc_doc_t;

typedef struct {
    const svc_route_t *routes;        /* ends with { NULL } */
    const svc_permission_t *permissions;   /* ends with { NULL } */
    const svc_field_t *fields;        /* ends with { NULL }; may be NULL */
    const char *key_method;           /* the method that checks API keys for the gateway
                                         (kaiin.KeyCheck in, kaiin.KeyIdentity out), if any */
    const svc_doc_t *docs;            /* the comments of the service's protos outside proto/
                                         (whose are built in: svc_openapi.h), generated by
                                         tools/proto_doc; ends with { NULL }; may be NULL */
} svc_http_t;

/* The announcement of service's face (a packed kaiin.ServiceApi) into a new buffer the
   caller frees, its size in *size. */
uint8_t *svc_http_announcement (const char *service, const svc_http_t *http, size_t *size);

/* The route of a request's http part, or NULL when service declares none by that name. */
const svc_route_t *svc_http_route (const svc_http_t *http, const Kaiin__Request *envelope);

/* Reads the request's http part (JSON body, path and query) into the route's input message
   and packs it as the envelope's payload (replacing any). A path or query parameter fills
   its field as text: an integer, true or false, a string, or a time (an int64 <x>_ms, given
   as <x>) in RFC 3339. Returns 0, or -1 with every bad field named in errors (one reason a
   field: the declared rules' first, then the codec's), in Japanese when the envelope's
   language is "ja". */
int svc_http_read (const svc_http_t *http, const svc_route_t *route, Kaiin__Request *envelope,
                   pb_json_errors_t *errors);

/* The reply payload (route's output, packed) as JSON text the caller frees, its size in
   *size, and the reply's version as an entity tag into etag ("" when it has none): the
   whole output, its route->response field, or (one, for a route of one item or many that
   was given one) the first item of its route->body field. NULL when the payload cannot be
   read (or has no such field set). */
char *svc_http_write (const svc_http_t *http, const svc_route_t *route, bool one,
                      const uint8_t *payload, size_t payload_size, size_t *size, char etag [32]);

/* A paged route's reply payload: its "next_page" in a new string the caller frees ("" on the
   last page), or NULL when the payload cannot be read. */
char *svc_http_next_page (const svc_route_t *route, const uint8_t *payload, size_t payload_size);

/* True when route takes one item or many and the request gave one. */
bool svc_http_gave_one (const svc_route_t *route, const Kaiin__Request *envelope);

/* When route declares a text field and the reply payload has it set: its text in a new
   string the caller frees, its size in *size, and the media type (borrowed from the route)
   in *type. Else NULL. */
char *svc_http_write_text (const svc_route_t *route, const uint8_t *payload, size_t payload_size,
                           size_t *size, const char **type);

#endif
