/* http.h - the gateway's HTTP server on libmicrohttpd: limits, bodies, suspend/resume of a
   request while a service works on it, and the response helpers every route uses */
#ifndef KAIIN_HTTP_H
#define KAIIN_HTTP_H
#include "envelope.pb-c.h"
#include "mdp_broker.h"
#include "session.h"
#include <jansson.h>
#include <microhttpd.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#define HTTP_MAX_BODY (1024 * 1024)
#define HTTP_CSRF_HEADER "X-CSRF-Token"    /* a cookie session's CSRF token (cookie.h) */

typedef struct _http_request_t http_request_t;

/* Called on the HTTP thread with the OK reply's payload of a service call. */
typedef void (http_reply_fn) (http_request_t *request, const ProtobufCBinaryData *payload);
typedef void (http_error_fn) (http_request_t *request, unsigned int status, const char *message);
typedef void (http_route_reply_fn) (http_request_t *request, const Kaiin__Reply *reply);

struct _http_request_t {
    struct MHD_Connection *connection;
    const char *method;             /* borrowed from libmicrohttpd for the request's life */
    const char *path;
    char request_id [132];
    char *body;                     /* owned, NUL-terminated */
    size_t body_size;
    size_t body_room;               /* bytes allocated for body: grown by doubling */
    bool body_too_large;
    size_t body_limit;              /* HTTP_MAX_BODY unless the route allows more */
    size_t body_total;              /* bytes of the body come so far (body_size: kept now) */
    size_t slice_size;              /* a streamed route's (Route.streamed): its body goes on
                                       in slices of about this many bytes, never kept whole;
                                       0: the body is kept whole, then dispatched */
    bool dispatched;                /* a streamed body's first slice was dispatched */
    bool body_ended;                /* the slice being sent is the body's last */
    char upload [64];               /* the id the first slice's reply named */
    void (*send_slice) (http_request_t *request);  /* sends a streamed body's later slices
                                                      (set by the route's first call) */
    /* A paged route's reply (Route.paged), sent on a page at a time. */
    bool paging;                    /* the response is under way: replies are its next pages */
    char page [1024];               /* the page to ask for next; "" once the last came */
    char *chunk;                    /* the page being sent (owned) ... */
    size_t chunk_size, chunk_sent;  /* ... its size, and the bytes of it sent */
    bool page_failed;               /* a page after the first failed: the response is cut short */
    void (*send_page) (http_request_t *request);   /* asks for request->page (set by the
                                                      route's first call) */
    int timeout_ms;                 /* a route's own deadline for its calls; 0: the default */
    int route;                      /* index into the routing table, -1 while unmatched */
    char param [64];                /* the {id} of the path */
    const void *api;                /* or a route a service announced (api_routes.c) */
    char api_params [4][2][256];    /* its path's {name}s and their values (a value of up to
                                       255 bytes: an email address, as in DELETE
                                       /v1/messaging/suppressions/{email}) */
    int api_param_count;
    char client_ip [48];
    char scratch [320];             /* a route's note to itself across a call (a login's email) */
    session_identity_t caller;      /* set by authentication */
    bool by_cookie;                 /* authenticated by a session cookie, not a bearer token */
    int64_t started_us;

    /* A call to a service in progress (set by http_call, filled on the broker's thread). */
    http_reply_fn *on_reply;
    http_route_reply_fn *on_route_reply;
    http_error_fn *on_error;
    volatile int state;
    mdp_status_t call_status;
    uint8_t *reply;
    size_t reply_size;

    /* The response being built. */
    unsigned int status;
    struct MHD_Response *response;
    char etag [32];
    char location [96];
    const char *allow;
    bool replayed;                  /* the reply was an idempotency key's kept one */
};

typedef struct {
    int port;
    int threads;
    int max_connections;
    int max_connections_per_ip;
    int timeout_s;
    int request_timeout_ms;
    mdp_broker_t *broker;
    const char *tls_cert;           /* PEM certificate and key (tls_load), borrowed until */
    const char *tls_key;            /* http_stop; NULL: plain HTTP */
    void (*dispatch) (http_request_t *request);    /* routes a new, complete request */
    size_t (*body_limit) (const char *method, const char *path);   /* per route, bytes */
    bool (*streamed) (const char *method, const char *path);  /* the route streams its body */
    size_t slice_size;              /* bytes of a streamed body's slice (a slice is sent once
                                       it has at least this many) */
    void (*before_body) (http_request_t *request);  /* may answer (http_problem) a request
                                                       with a body before the body is read:
                                                       the body is then dropped as it comes,
                                                       the answer sent once it is in */
} http_config_t;

/* The proxies in front (addresses split by commas: KAIIN_TRUSTED_PROXIES) whose
   X-Forwarded-For gives a request's client_ip; "" for none. Start-up, before http_start;
   -1 (logged) when an entry is not an IPv4 or IPv6 address. */
int http_trust_proxies (const char *list);

/* Starts the server; returns 0, or -1 when the port cannot be bound. */
int http_start (const http_config_t *config);

/* Stops accepting, waits up to wait_ms for requests in flight, then returns their number. */
int http_quiesce (int wait_ms);

/* Stops the server (after the broker has answered every pending call). */
void http_stop (void);

/* Requests in flight right now (any thread). */
int http_in_flight (void);

/* Bytes of request bodies kept right now by the requests in flight (any thread). */
size_t http_body_bytes (void);

/* Response helpers: each sets the one response of the request. body is stolen. */
void http_respond_json (http_request_t *request, unsigned int status, json_t *body);
void http_respond_text (http_request_t *request, unsigned int status, const char *content_type,
                        const char *text, size_t size);
/* The same for a text that lives as long as the process (not copied). */
void http_respond_static (http_request_t *request, unsigned int status, const char *content_type,
                          const char *text, size_t size);

/* Answers with a paged route's first page (text, size bytes, copied) of content_type, or
   with the whole reply when next is "". Else the response goes on a page at a time, chunked:
   once a page is sent, request->send_page asks for the next (request->page), whose reply
   comes to the route, which hands it to http_page_came. At most one page is held. */
void http_respond_pages (http_request_t *request, unsigned int status, const char *content_type,
                         const char *text, size_t size, const char *next);

/* A later page's reply: its body is sent on, or (an error) the response is cut short. */
void http_page_came (http_request_t *request, const Kaiin__Reply *reply);

/* Sends an application/problem+json response. errors (stolen, may be NULL) is an array of
   {"field","reason"} (an item without "code" gets its reason's code in the table of messages,
   else "invalid"); extra (stolen, may be NULL) is merged into the problem object. The problem's
   "code" is detail's in the table of messages (common/messages.h), else extra's "code", else
   its type's (problem_code_set). */
void http_problem (http_request_t *request, unsigned int status, const char *detail,
                   json_t *errors, json_t *extra);

/* As http_problem with the problem's code given (a service's), or NULL for its type's: detail,
   maybe already in Japanese, is not looked up. */
void http_problem_coded (http_request_t *request, unsigned int status, const char *detail,
                         const char *code, json_t *errors, json_t *extra);

/* One field error, the most common problem: 400 naming field. */
void http_field_problem (http_request_t *request, const char *field, const char *reason);

/* Sends method (e.g. "member.Get") with message to service on behalf of request->caller: the
   connection is suspended until the reply, then on_reply runs for an OK reply (and may call
   again); every other outcome is answered here (status → HTTP code, field errors, 503 without
   a worker, 504 past the deadline) unless on_error is set, which then decides. */
void http_call (http_request_t *request, const char *service, const char *method,
                const ProtobufCMessage *message, http_reply_fn *on_reply);

/* The same for a route a service announced: the service reads http (the route matched, the
   JSON body, the path's and query's parameters) itself, and on_reply gets whatever the service
   replied (its JSON, or an error for http_reply_problem); only a call that got no reply is
   answered here (or by on_error). */
void http_call_route (http_request_t *request, const char *service, const char *method,
                      Kaiin__HttpRequest *http, http_route_reply_fn *on_reply);

/* A streamed body's slice (not its last) was taken by the service, into the upload named
   upload: the next slice goes there once it has come. */
void http_slice_taken (http_request_t *request, const char *upload);

/* Answers a service's error reply: its status as the HTTP one, its field errors, as
   problem+json. */
void http_reply_problem (http_request_t *request, const Kaiin__Reply *reply);

/* Reads If-Match: "N" into *version, 0 when absent or "*". Returns -1 after answering 400 or
   412 (a weak tag never matches). */
int http_if_match (http_request_t *request, int64_t *version);

/* Unpacks a reply's payload as descriptor's message (the caller frees it with
   protobuf_c_message_free_unpacked or the type's own free), or answers 502 and returns NULL. */
ProtobufCMessage *http_unpack (http_request_t *request, const ProtobufCMessageDescriptor *descriptor,
                               const ProtobufCBinaryData *payload);

/* True when the request came over TLS: the gateway's own (KAIIN_TLS_CERT_FILE), or a TLS front
   that says so with X-Forwarded-Proto: https. */
bool http_behind_tls (http_request_t *request);

/* A request header (borrowed), or NULL. */
const char *http_header (http_request_t *request, const char *name);

#endif
