/* http.c - the gateway's HTTP server on libmicrohttpd: limits, bodies, suspend/resume of a
   request while a service works on it, and the response helpers every route uses */
#include "http.h"
#include "clock.h"
#include "envelope.pb-c.h"
#include "log.h"
#include "messages.h"
#include "metrics.h"
#include "problem.h"
#include "tls.h"
#include <arpa/inet.h>
#include <assert.h>
#include <jansson.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

enum { STATE_NEW, STATE_CALLING, STATE_REPLIED, STATE_DONE };

static struct MHD_Daemon *s_daemon;
static http_config_t s_config;
static int s_in_flight;
static size_t s_body_bytes;             /* of the bodies kept by requests in flight */

int
http_in_flight (void)
{
    return __atomic_load_n (&s_in_flight, __ATOMIC_RELAXED);
}

size_t
http_body_bytes (void)
{
    return __atomic_load_n (&s_body_bytes, __ATOMIC_RELAXED);
}

const char *
http_header (http_request_t *request, const char *name)
{
    return MHD_lookup_connection_value (request->connection, MHD_HEADER_KIND, name);
}

bool
http_behind_tls (http_request_t *request)
{
    const char *proto = http_header (request, "X-Forwarded-Proto");
    return s_config.tls_cert || (proto && strcasecmp (proto, "https") == 0);
}

/* Echoes a client's X-Request-Id when it is sane, else makes one. */
static void
s_request_id (http_request_t *request)
{
    const char *given = http_header (request, "X-Request-Id");
    size_t length = given? strlen (given): 0;
    bool sane = length > 0 && length <= 128;
    for (size_t i = 0; sane && i < length; i++)
        sane = isalnum ((unsigned char) given [i]) || strchr ("._:-", given [i]);
    if (sane) {
        memcpy (request->request_id, given, length + 1);
        return;
    }
    /* 128 bits from a per-thread xorshift128+ seeded by getrandom: unique and unguessable
       enough for an id, without a system call per request. */
    static __thread uint64_t state [2];
    if (!state [0] && !state [1]
    &&  (getrandom (state, sizeof state, 0) != sizeof state || (!state [0] && !state [1])))
        state [0] = (uint64_t) clock_mono_us () | 1;
    static const char hex [] = "0123456789abcdef";
    char *out = request->request_id;
    for (int half = 0; half < 2; half++) {
        uint64_t x = state [0], y = state [1];
        state [0] = y;
        x ^= x << 23;
        state [1] = x ^ y ^ (x >> 17) ^ (y >> 26);
        uint64_t value = state [1] + y;
        for (int i = 0; i < 16; i++, value >>= 4)
            *out++ = hex [value & 15];
    }
    *out = 0;
}

/* The proxies in front whose X-Forwarded-For is believed (KAIIN_TRUSTED_PROXIES), as binary
   addresses: a client sending the header itself is not believed. */
#define PROXIES_MAX 16
typedef struct {
    int family;
    unsigned char bytes [16];
} s_address_t;
static s_address_t s_proxies [PROXIES_MAX];
static int s_proxy_count;

/* An IPv4 or IPv6 address written in text's length bytes, spaces around it allowed. */
static bool
s_address_parse (const char *text, size_t length, s_address_t *address)
{
    while (length && (*text == ' ' || *text == '\t'))
        text++, length--;
    while (length && (text [length - 1] == ' ' || text [length - 1] == '\t'))
        length--;
    char written [INET6_ADDRSTRLEN];
    if (length == 0 || length >= sizeof written)
        return false;
    memcpy (written, text, length);
    written [length] = 0;
    address->family = strchr (written, ':')? AF_INET6: AF_INET;
    return inet_pton (address->family, written, address->bytes) == 1;
}

static bool
s_trusted (const s_address_t *address)
{
    for (int i = 0; i < s_proxy_count; i++)
        if (s_proxies [i].family == address->family
        &&  memcmp (s_proxies [i].bytes, address->bytes, address->family == AF_INET? 4: 16) == 0)
            return true;
    return false;
}

int
http_trust_proxies (const char *list)
{
    for (const char *at = list; at && *at; ) {
        const char *comma = strchr (at, ',');
        size_t length = comma? (size_t) (comma - at): strlen (at);
        if (s_proxy_count == PROXIES_MAX || !s_address_parse (at, length, &s_proxies [s_proxy_count])) {
            log_error ("KAIIN_TRUSTED_PROXIES: '%.*s' is not an IPv4 or IPv6 address (at most %d)",
                       (int) length, at, PROXIES_MAX);
            return -1;
        }
        s_proxy_count++;
        at = comma? comma + 1: NULL;
    }
    return 0;
}

static enum MHD_Result
s_last_forwarded (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    if (strcasecmp (key, "X-Forwarded-For") == 0)
        *(const char **) cls = value;
    return MHD_YES;
}

/* The client's address: the connection's peer; behind a proxy of ours, the address that proxy
   put in X-Forwarded-For (the last such header, read from its right end: each proxy of ours
   adds the address it saw; the first other one is the client, what is left of it the client
   may have written). */
static void
s_client_ip (http_request_t *request)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (request->connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *address = info? info->client_addr: NULL;
    if (address && address->sa_family == AF_INET)
        inet_ntop (AF_INET, &((const struct sockaddr_in *) address)->sin_addr,
                   request->client_ip, sizeof request->client_ip);
    else
    if (address && address->sa_family == AF_INET6)
        inet_ntop (AF_INET6, &((const struct sockaddr_in6 *) address)->sin6_addr,
                   request->client_ip, sizeof request->client_ip);
    s_address_t hop;
    const char *forwarded = NULL;
    if (!s_proxy_count || !s_address_parse (request->client_ip, strlen (request->client_ip), &hop)
    ||  !s_trusted (&hop))
        return;
    MHD_get_connection_values (request->connection, MHD_HEADER_KIND, s_last_forwarded, &forwarded);
    for (const char *end = forwarded? forwarded + strlen (forwarded): NULL; end && end > forwarded; ) {
        const char *start = end;
        while (start > forwarded && start [-1] != ',')
            start--;
        if (!s_address_parse (start, (size_t) (end - start), &hop))
            break;
        inet_ntop (hop.family, hop.bytes, request->client_ip, sizeof request->client_ip);
        if (!s_trusted (&hop))
            break;
        end = start > forwarded? start - 1: forwarded;
    }
}

static void
s_set_response (http_request_t *request, unsigned int status, struct MHD_Response *response)
{
    if (request->response)
        MHD_destroy_response (request->response);
    request->status = status;
    request->response = response;
    request->state = STATE_DONE;
}

/* text stays valid for the life of the process when is_static, and is copied otherwise. */
static void
s_respond_text (http_request_t *request, unsigned int status, const char *content_type,
                const char *text, size_t size, bool is_static)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (size, (void *) text,
        is_static? MHD_RESPMEM_PERSISTENT: MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header (response, "Content-Type", content_type);
    s_set_response (request, status, response);
}

void
http_respond_text (http_request_t *request, unsigned int status, const char *content_type,
                   const char *text, size_t size)
{
    s_respond_text (request, status, content_type, text, size, false);
}

void
http_respond_static (http_request_t *request, unsigned int status, const char *content_type,
                     const char *text, size_t size)
{
    s_respond_text (request, status, content_type, text, size, true);
}

static void
s_respond_json_as (http_request_t *request, unsigned int status, json_t *body, const char *type)
{
    char *text = json_dumps (body, JSON_COMPACT);
    json_decref (body);
    assert (text);
    struct MHD_Response *response = MHD_create_response_from_buffer (strlen (text), text,
                                                                     MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header (response, "Content-Type", type);
    s_set_response (request, status, response);
}

void
http_respond_json (http_request_t *request, unsigned int status, json_t *body)
{
    s_respond_json_as (request, status, body, "application/json");
}

void
http_problem (http_request_t *request, unsigned int status, const char *detail,
              json_t *errors, json_t *extra)
{
    http_problem_coded (request, status, detail, detail? messages_code (detail): NULL, errors, extra);
}

void
http_problem_coded (http_request_t *request, unsigned int status, const char *detail,
                    const char *code, json_t *errors, json_t *extra)
{
    bool japanese = messages_prefer_japanese (http_header (request, "Accept-Language"));
    json_t *problem = problem_new (status, code, detail, request->path, request->request_id, japanese);
    size_t index;
    json_t *item;
    json_array_foreach (errors, index, item)
        if (!json_object_get (item, "code")) {          /* the gateway's own, in English */
            const char *reason = json_string_value (json_object_get (item, "reason"));
            const char *said = reason? messages_code (reason): NULL;
            json_t *coded = json_pack ("{s:O, s:s}", "field", json_object_get (item, "field"),
                                       "code", said? said: "invalid");
            json_object_update (coded, item);
            json_array_set_new (errors, index, coded);
        }
    if (errors)
        json_object_set_new (problem, "errors", errors);
    if (extra) {
        json_object_update (problem, extra);
        problem_title_set (problem, japanese);
    }
    json_decref (extra);
    problem_code_set (problem);
    s_respond_json_as (request, status, problem, "application/problem+json");
    if (status == 401)
        MHD_add_response_header (request->response, "WWW-Authenticate", "Bearer realm=\"kaiin\"");
    if (status == 405 && request->allow)
        MHD_add_response_header (request->response, "Allow", request->allow);
}

void
http_field_problem (http_request_t *request, const char *field, const char *reason)
{
    http_problem (request, 400, "the request has invalid fields",
                  json_pack ("[{s:s, s:s}]", "field", field, "reason", reason), NULL);
}

/* On the broker's thread: keep the outcome, wake the connection. */
static void
s_on_broker_reply (void *arg, mdp_status_t status, const void *data, size_t size)
{
    http_request_t *request = arg;
    request->call_status = status;
    if (status == MDP_OK) {
        request->reply = malloc (size + 1);
        assert (request->reply);
        memcpy (request->reply, data, size);
        request->reply_size = size;
    }
    __atomic_store_n (&request->state, STATE_REPLIED, __ATOMIC_RELEASE);
    MHD_resume_connection (request->connection);
}

/* Sends envelope's method to service with payload (size bytes) or an HTTP part. */
static void
s_call (http_request_t *request, const char *service, const char *method, const uint8_t *payload,
        size_t size, Kaiin__HttpRequest *http, http_reply_fn *on_reply,
        http_route_reply_fn *on_route_reply)
{
    int64_t now_ms = clock_now_ms ();
    int timeout_ms = request->timeout_ms? request->timeout_ms: s_config.request_timeout_ms;
    Kaiin__Request envelope = KAIIN__REQUEST__INIT;
    envelope.request_id = request->request_id;
    envelope.method = (char *) method;
    envelope.deadline_ms = now_ms + timeout_ms;
    envelope.caller_id = request->caller.id;
    envelope.caller_role = request->caller.role;
    envelope.caller_kind = request->caller.kind;
    envelope.now_ms = now_ms;
    envelope.client_ip = request->client_ip;
    envelope.language = (char *) (messages_prefer_japanese (http_header (request, "Accept-Language"))? "ja": "");
    const char *idempotency_key = strcmp (request->method, "POST") == 0?
                                  http_header (request, "Idempotency-Key"): NULL;
    if (idempotency_key)               /* checked by s_idempotency_key_valid on arrival */
        envelope.idempotency_key = (char *) idempotency_key;
    envelope.payload.data = (uint8_t *) payload;
    envelope.payload.len = size;
    envelope.http = http;
    size_t packed_size = kaiin__request__get_packed_size (&envelope);
    uint8_t *packed = malloc (packed_size + 1);
    assert (packed);
    kaiin__request__pack (&envelope, packed);

    request->on_reply = on_reply;
    request->on_route_reply = on_route_reply;
    free (request->reply);
    request->reply = NULL;
    request->reply_size = 0;
    request->state = STATE_CALLING;
    if (http && request->slice_size) {  /* a slice of a streamed body: sent on, not kept */
        __atomic_fetch_sub (&s_body_bytes, request->body_size, __ATOMIC_RELAXED);
        request->body_size = 0;
    }
    /* Suspend before submitting: the reply may come back before this function returns. */
    MHD_suspend_connection (request->connection);
    mdp_broker_submit (s_config.broker, service, method, packed, packed_size,
                       clock_mono_us () + (int64_t) timeout_ms * 1000,
                       s_on_broker_reply, request);
    free (packed);
}

void
http_call (http_request_t *request, const char *service, const char *method,
           const ProtobufCMessage *message, http_reply_fn *on_reply)
{
    size_t size = protobuf_c_message_get_packed_size (message);
    uint8_t *payload = malloc (size + 1);
    assert (payload);
    protobuf_c_message_pack (message, payload);
    s_call (request, service, method, payload, size, NULL, on_reply, NULL);
    free (payload);
}

void
http_call_route (http_request_t *request, const char *service, const char *method,
                 Kaiin__HttpRequest *http, http_route_reply_fn *on_reply)
{
    s_call (request, service, method, NULL, 0, http, NULL, on_reply);
}

static const char *
s_status_detail (mdp_status_t status)
{
    return status == MDP_TIMEOUT? "the service did not answer before the deadline"
         : status == MDP_LOST? "the service stopped while working on the request: it may or may not have been done"
         : "the service is not available right now";
}

/* The HTTP status of an error reply. A reply that names the field "Idempotency-Key" is the
   service runtime's verdict on the key (docs/architecture.md): ABORTED is a request with the
   same key still in progress (409), any other status a key used with another request (422). */
static unsigned int
s_reply_http_status (const Kaiin__Reply *reply)
{
    for (size_t i = 0; i < reply->n_errors; i++)
        if (strcmp (reply->errors [i]->field, "Idempotency-Key") == 0)
            return reply->status == KAIIN__STATUS__ABORTED? 409: 422;
    return problem_status_of (reply->status);
}

/* An Idempotency-Key is 1..255 visible ASCII characters. */
static bool
s_idempotency_key_valid (const char *key)
{
    size_t length = strlen (key);
    if (length == 0 || length > 255)
        return false;
    for (size_t i = 0; i < length; i++)
        if (key [i] < 0x21 || key [i] > 0x7e)
            return false;
    return true;
}

void
http_reply_problem (http_request_t *request, const Kaiin__Reply *reply)
{
    json_t *errors = NULL;
    if (reply->n_errors) {
        errors = json_array ();
        for (size_t i = 0; i < reply->n_errors; i++)
            json_array_append_new (errors, json_pack ("{s:s, s:s, s:s}",
                "field", reply->errors [i]->field,
                "code", *reply->errors [i]->code? reply->errors [i]->code: "invalid",
                "reason", reply->errors [i]->reason));
    }
    http_problem_coded (request, s_reply_http_status (reply), reply->message, reply->code, errors, NULL);
}

void
http_slice_taken (http_request_t *request, const char *upload)
{
    snprintf (request->upload, sizeof request->upload, "%s", upload);
    request->state = STATE_NEW;         /* no answer yet: the next slice is awaited */
}

/* Turns a service's reply into the response, or hands an OK payload to the route. */
static void
s_finish_call (http_request_t *request)
{
    http_error_fn *on_error = request->on_error;
    request->on_error = NULL;
    if (request->call_status != MDP_OK) {
        unsigned int status = request->call_status == MDP_TIMEOUT? 504: 503;
        if (on_error)
            on_error (request, status, s_status_detail (request->call_status));
        else
            http_problem (request, status, s_status_detail (request->call_status), NULL, NULL);
        return;
    }
    Kaiin__Reply *reply = kaiin__reply__unpack (NULL, request->reply_size, request->reply);
    if (!reply) {
        http_problem (request, 502, "the service sent a reply that cannot be read", NULL, NULL);
        return;
    }
    if (reply->replayed)
        request->replayed = true;
    http_route_reply_fn *on_route_reply = request->on_route_reply;
    request->on_route_reply = NULL;
    if (on_route_reply)
        on_route_reply (request, reply);
    else
    if (reply->status == KAIIN__STATUS__OK)
        request->on_reply (request, &reply->payload);
    else
    if (on_error)
        on_error (request, s_reply_http_status (reply), reply->message);
    else
        http_reply_problem (request, reply);
    kaiin__reply__free_unpacked (reply, NULL);
}

/* --- paged replies ------------------------------------------------------------------------ */

/* Keeps a page's body (copied) to be sent, and what to ask for after it. */
static void
s_page_keep (http_request_t *request, const char *text, size_t size, const char *next)
{
    free (request->chunk);
    request->chunk = malloc (size + 1);
    assert (request->chunk);
    memcpy (request->chunk, text, size);
    request->chunk_size = size;
    request->chunk_sent = 0;
    if (strlen (next) >= sizeof request->page) {
        log_warn ("a paged reply named a next page of %zu bytes: the response ends here", strlen (next));
        request->page_failed = true;
    }
    snprintf (request->page, sizeof request->page, "%s", next);
}

/* A later page got no reply, or an error: the client learns it from a response cut short
   (its status and headers are gone already). */
static void
s_page_failed (http_request_t *request, unsigned int status, const char *message)
{
    log_warn ("a paged response is cut short: its next page failed (%u, %s)", status, message);
    request->page_failed = true;
    request->state = STATE_DONE;
}

void
http_page_came (http_request_t *request, const Kaiin__Reply *reply)
{
    if (reply->status != KAIIN__STATUS__OK || reply->http_status >= 400) {
        s_page_failed (request, reply->http_status? reply->http_status: problem_status_of (reply->status),
                       reply->message);
        return;
    }
    s_page_keep (request, (const char *) reply->json.data, reply->json.len, reply->next_page);
    request->state = STATE_DONE;
}

/* libmicrohttpd's reader of a paged response, on the connection's thread: the page held,
   then the next one asked for, the connection suspended until it comes (0: nothing yet). */
static ssize_t
s_page_read (void *cls, uint64_t position, char *buffer, size_t room)
{
    (void) position;
    http_request_t *request = cls;
    if (__atomic_load_n (&request->state, __ATOMIC_ACQUIRE) == STATE_REPLIED) {
        log_set_request_id (request->request_id);
        s_finish_call (request);        /* to the route, then http_page_came or s_page_failed */
        log_set_request_id (NULL);
    }
    if (request->page_failed)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (request->chunk_sent < request->chunk_size) {
        size_t size = request->chunk_size - request->chunk_sent;
        if (size > room)
            size = room;
        memcpy (buffer, request->chunk + request->chunk_sent, size);
        request->chunk_sent += size;
        return (ssize_t) size;
    }
    if (!*request->page)
        return MHD_CONTENT_READER_END_OF_STREAM;
    free (request->chunk);              /* sent: only the next page is held from now */
    request->chunk = NULL;
    request->chunk_size = request->chunk_sent = 0;
    request->on_error = s_page_failed;
    log_set_request_id (request->request_id);
    request->send_page (request);
    log_set_request_id (NULL);
    return 0;
}

void
http_respond_pages (http_request_t *request, unsigned int status, const char *content_type,
                    const char *text, size_t size, const char *next)
{
    if (!*next) {
        http_respond_text (request, status, content_type, text, size);
        return;
    }
    request->paging = true;
    s_page_keep (request, text, size, next);
    struct MHD_Response *response = MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, 16 * 1024,
                                                                       s_page_read, request, NULL);
    MHD_add_response_header (response, "Content-Type", content_type);
    s_set_response (request, status, response);
}

/* A connection's memory in libmicrohttpd: its request's head is read into it. */
#define CONNECTION_MEMORY (64 * 1024)

typedef struct {
    int lengths;                    /* Content-Length headers */
    int codings;                    /* Transfer-Encoding headers */
    bool chunked;                   /* the last one says chunked */
    bool folded;                    /* a header line went on over the next (obs-fold) */
} s_framing_t;

/* Whether a field was folded (obs-fold). libmicrohttpd 0.9.75 joins a folded line onto the
   field's *name* ("X-A: one\r\n two" arrives as "X-Atwo: one"), so neither name nor value can
   tell. But it keeps a field in the request's own bytes, its value after its name, the colon
   (now a NUL) and white space; the joined name is a copy made elsewhere. So a value that does
   not follow its name that way was folded. (libmicrohttpd 1.0 refuses obs-fold itself,
   MHD_OPTION_CLIENT_DISCIPLINE_LVL; tests/test_http_strict.py pins this for the 0.9 series.) */
static bool
s_folded (const char *key, size_t key_size, const char *value)
{
    uintptr_t after = (uintptr_t) key + key_size + 1, at = (uintptr_t) value;
    if (!value || at < after || at - after > CONNECTION_MEMORY)
        return true;
    for (const char *c = key + key_size + 1; c < value; c++)
        if (*c != ' ' && *c != '\t')
            return true;
    return false;
}

static enum MHD_Result
s_framing_header (void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                  const char *value, size_t value_size)
{
    (void) kind;
    (void) value_size;
    s_framing_t *framing = cls;
    framing->folded |= s_folded (key, key_size, value);
    if (strcasecmp (key, "Content-Length") == 0)
        framing->lengths++;
    else
    if (strcasecmp (key, "Transfer-Encoding") == 0) {
        framing->codings++;
        framing->chunked = value && strcasecmp (value, "chunked") == 0;
    }
    return MHD_YES;
}

/* What is wrong with how a request says where its body ends, or NULL (RFC 9112, 6.3 and 5.2):
   two lengths, a length beside a coding, a coding other than chunked, or a folded line would
   let a proxy in front and Kaiin read different requests from the same bytes (request
   smuggling). */
static const char *
s_framing_problem (struct MHD_Connection *connection)
{
    s_framing_t framing = { 0 };
    MHD_get_connection_values_n (connection, MHD_HEADER_KIND, s_framing_header, &framing);
    return framing.folded? "a header line is folded onto the next (obs-fold), which is not taken"
         : framing.lengths > 1? "the request has more than one Content-Length header"
         : framing.lengths && framing.codings? "the request has both Content-Length and Transfer-Encoding"
         : framing.codings > 1 || (framing.codings && !framing.chunked)
         ? "the only Transfer-Encoding taken is chunked, once": NULL;
}

/* Queues request's response with the headers every answer carries; frees it. */
static enum MHD_Result
s_queue (http_request_t *request, struct MHD_Connection *connection)
{
    MHD_add_response_header (request->response, "X-Request-Id", request->request_id);
    MHD_add_response_header (request->response, "X-Content-Type-Options", "nosniff");
    if (http_behind_tls (request))      /* browsers take it over HTTPS alone (RFC 6797) */
        MHD_add_response_header (request->response, "Strict-Transport-Security", "max-age=63072000");
    if (request->by_cookie && *request->caller.csrf)   /* how a reloaded screen learns it again */
        MHD_add_response_header (request->response, HTTP_CSRF_HEADER, request->caller.csrf);
    if (*request->etag)
        MHD_add_response_header (request->response, "ETag", request->etag);
    if (*request->location)
        MHD_add_response_header (request->response, "Location", request->location);
    if (request->replayed)
        MHD_add_response_header (request->response, "Idempotency-Replayed", "true");
    enum MHD_Result queued = MHD_queue_response (connection, request->status, request->response);
    MHD_destroy_response (request->response);
    request->response = NULL;
    return queued;
}

/* Answers a request whose body is in (a streamed body: its first slice), or routes it. */
static void
s_dispatch (http_request_t *request)
{
    if (request->body_too_large) {
        char detail [96];
        snprintf (detail, sizeof detail, "the request body is larger than %zu KiB",
                  request->body_limit / 1024);
        http_problem (request, 413, detail, NULL, NULL);
    }
    else
    if (strcmp (request->method, "POST") == 0 && http_header (request, "Idempotency-Key")
    &&  !s_idempotency_key_valid (http_header (request, "Idempotency-Key")))
        http_field_problem (request, "Idempotency-Key", "must be 1 to 255 visible ASCII characters");
    else
        s_config.dispatch (request);
}

/* Sends a streamed body's slice: the first is routed (authenticated, authorised, its route's
   call made), the later ones go by the route's send_slice. */
static void
s_send_slice (http_request_t *request)
{
    if (request->dispatched) {
        request->send_slice (request);
        return;
    }
    request->dispatched = true;
    s_dispatch (request);
}

static enum MHD_Result
s_access (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void) cls;
    (void) version;
    http_request_t *request = *con_cls;
    if (!request) {
        request = calloc (1, sizeof *request);
        assert (request);
        request->connection = connection;
        request->method = method;
        request->path = url;
        request->route = -1;
        request->started_us = clock_mono_us ();
        s_request_id (request);
        s_client_ip (request);
        bool has_body = strcmp (method, "POST") == 0 || strcmp (method, "PUT") == 0
                     || strcmp (method, "PATCH") == 0;
        request->body_limit = has_body && s_config.body_limit? s_config.body_limit (method, url): HTTP_MAX_BODY;
        if (has_body && s_config.streamed && s_config.streamed (method, url))
            request->slice_size = s_config.slice_size;
        const char *length = http_header (request, "Content-Length");
        if (length && strtoull (length, NULL, 10) > request->body_limit)
            request->body_too_large = true;
        *con_cls = request;
        __atomic_fetch_add (&s_in_flight, 1, __ATOMIC_RELAXED);
        const char *framing = s_framing_problem (connection);
        if (!framing) {
            /* What the routes refuse before the body (a caller with no credential on an
               upload route) is answered once the body is read and dropped, as a body over
               the limit is: closing on a client still sending would lose the answer. */
            if (has_body && !request->body_too_large && s_config.before_body)
                s_config.before_body (request);
            return MHD_YES;
        }
        http_problem (request, 400, framing, NULL, NULL);
        MHD_add_response_header (request->response, "Connection", "close");    /* its bytes are not trusted */
        return s_queue (request, connection);
    }
    if (*upload_data_size) {
        if (request->slice_size && request->state == STATE_CALLING)
            return MHD_YES;             /* not taken: offered again once the slice's reply came */
        log_set_request_id (request->request_id);
        if (request->slice_size && request->state == STATE_REPLIED)
            s_finish_call (request);    /* a slice's reply: the next is awaited, or the answer */
        if (request->state == STATE_DONE)
            ;                           /* answered already: the body is dropped */
        else
        if (!request->body_too_large && request->body_total + *upload_data_size <= request->body_limit) {
            /* Grown by doubling: a 32 MiB upload comes in 32 KiB parts, and a realloc for each
               would copy the body over and over where the allocator cannot grow it in place. */
            size_t needed = request->body_size + *upload_data_size + 1;
            if (needed > request->body_room) {
                size_t room = request->body_room? request->body_room * 2: 4096;
                if (room < needed)
                    room = needed;
                if (room > request->body_limit + 1)
                    room = request->body_limit + 1;        /* needed is never more */
                request->body = realloc (request->body, request->body_room = room);
            }
            assert (request->body);
            memcpy (request->body + request->body_size, upload_data, *upload_data_size);
            request->body_size += *upload_data_size;
            request->body_total += *upload_data_size;
            __atomic_fetch_add (&s_body_bytes, *upload_data_size, __ATOMIC_RELAXED);
            request->body [request->body_size] = 0;
            /* A streamed body goes on a slice at a time, each once the one before is taken:
               the client is read no faster than the service takes the file. */
            if (request->slice_size && request->state == STATE_NEW
            &&  request->body_size >= request->slice_size)
                s_send_slice (request);
        }
        else
            request->body_too_large = true;
        log_set_request_id (NULL);
        *upload_data_size = 0;
        return MHD_YES;
    }
    log_set_request_id (request->request_id);
    int state = __atomic_load_n (&request->state, __ATOMIC_ACQUIRE);
    if (request->slice_size && !request->body_ended && state == STATE_REPLIED) {
        s_finish_call (request);        /* a slice's reply: the last slice goes now, or the answer */
        state = request->state;
    }
    if (state == STATE_NEW) {
        if (request->slice_size && !request->body_too_large) {
            request->body_ended = true;
            s_send_slice (request);
        }
        else
            s_dispatch (request);
    }
    else
    if (state == STATE_REPLIED)
        s_finish_call (request);
    log_set_request_id (NULL);
    if (request->state != STATE_DONE)
        return MHD_YES;                 /* suspended: a service is working on it */

    return s_queue (request, connection);
}

static void
s_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
             enum MHD_RequestTerminationCode code)
{
    (void) cls;
    (void) connection;
    http_request_t *request = *con_cls;
    if (!request)
        return;
    unsigned int status = request->status? request->status: 499;   /* client went away */
    if (code != MHD_REQUEST_TERMINATED_COMPLETED_OK && request->status == 0)
        status = 499;
    int64_t elapsed_us = clock_mono_us () - request->started_us;
    metrics_observe (request->route, request->method, status, elapsed_us);
    /* The access log: the route's pattern, never the path (ids) or the query (search words).
       The probes' routes (/healthz, /readyz, /metrics: asked every few seconds by every
       orchestrator) are counted in /metrics only. */
    const char *pattern = metrics_route_pattern (request->route);
    if (strcmp (pattern, "/healthz") != 0 && strcmp (pattern, "/readyz") != 0 && strncmp (pattern, "/metrics", 8) != 0) {
        log_set_request_id (request->request_id);
        log_info_fields (json_pack ("{s:s, s:s, s:i, s:f, s:s, s:s}", "method", request->method,
                                    "route", pattern, "status", (int) status,
                                    "ms", (double) elapsed_us / 1000.0, "caller", request->caller.kind,
                                    "caller_id", request->caller.id),
                         "%s %s %u", request->method, pattern, status);
        log_set_request_id (NULL);
    }
    if (request->response)
        MHD_destroy_response (request->response);
    __atomic_fetch_sub (&s_body_bytes, request->body_size, __ATOMIC_RELAXED);
    free (request->body);
    free (request->reply);
    free (request->chunk);
    free (request);
    *con_cls = NULL;
    __atomic_fetch_sub (&s_in_flight, 1, __ATOMIC_RELAXED);
}

static void
s_mhd_log (void *cls, const char *fmt, va_list args)
{
    (void) cls;
    char message [512];
    vsnprintf (message, sizeof message, fmt, args);
    message [strcspn (message, "\n")] = 0;
    log_warn ("http: %s", message);
}

int
http_start (const http_config_t *config)
{
    s_config = *config;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL
                       | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem tls [] = {
        { MHD_OPTION_HTTPS_MEM_CERT, 0, (void *) config->tls_cert },
        { MHD_OPTION_HTTPS_MEM_KEY, 0, (void *) config->tls_key },
        { MHD_OPTION_HTTPS_PRIORITIES, 0, (void *) TLS_PRIORITIES },
        { MHD_OPTION_END, 0, NULL }
    };
    if (config->tls_cert)
        flags |= MHD_USE_TLS;
    else
        tls [0].option = MHD_OPTION_END;
    s_daemon = MHD_start_daemon (flags, (uint16_t) config->port, NULL, NULL, s_access, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) config->threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) config->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) config->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) config->timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL,
        MHD_OPTION_ARRAY, tls,
        MHD_OPTION_END);
    const char *scheme = config->tls_cert? "HTTPS": "HTTP";
    if (!s_daemon)
        return log_error ("cannot listen on %s port '%d'", scheme, config->port);
    log_info ("listening on %s port %d with %d threads", scheme, config->port, config->threads);
    return 0;
}

int
http_quiesce (int wait_ms)
{
    if (!s_daemon)
        return 0;
    MHD_socket listener = MHD_quiesce_daemon (s_daemon);
    if (listener != MHD_INVALID_SOCKET)
        close (listener);
    for (int waited = 0; waited < wait_ms && http_in_flight () > 0; waited += 20)
        usleep (20 * 1000);
    return http_in_flight ();
}

void
http_stop (void)
{
    if (s_daemon)
        MHD_stop_daemon (s_daemon);
    s_daemon = NULL;
}

/* Reads If-Match: "N" into *version, 0 when absent or "*". -1 after answering 400 or 412. */
int
http_if_match (http_request_t *request, int64_t *version)
{
    *version = 0;
    const char *header = http_header (request, "If-Match");
    if (!header || strcmp (header, "*") == 0)
        return 0;
    if (strncmp (header, "W/", 2) == 0) {
        /* If-Match compares strongly (RFC 9110): a weak tag never matches. */
        http_problem (request, 412, "If-Match needs a strong ETag such as \"3\"", NULL, NULL);
        return -1;
    }
    char *end;
    errno = 0;
    long long value = header [0] == '"'? strtoll (header + 1, &end, 10): 0;
    if (header [0] != '"' || errno || value <= 0 || end [0] != '"' || end [1] != 0) {
        http_field_problem (request, "If-Match", "must be an ETag this API returned, such as \"3\"");
        return -1;
    }
    *version = value;
    return 0;
}

ProtobufCMessage *
http_unpack (http_request_t *request, const ProtobufCMessageDescriptor *descriptor,
             const ProtobufCBinaryData *payload)
{
    ProtobufCMessage *message = protobuf_c_message_unpack (descriptor, NULL, payload->len, payload->data);
    if (!message)
        http_problem (request, 502, "the service sent a reply that cannot be read", NULL, NULL);
    return message;
}
