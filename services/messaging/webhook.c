/* webhook.c - integrators' webhooks: endpoints registered by staff, a delivery of each event
   an endpoint asks for, sent signed by the tick, retried with back-off, logged */
#include "webhook.h"
#include "config.h"
#include "log.h"
#include "outbox.h"
#include "pb_json.h"
#include "trigger.h"
#include <arpa/inet.h>
#include <assert.h>
#include <curl/curl.h>
#include <glib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define WEBHOOK_COLUMNS "id, url, event_types, description, enabled, disabled_reason," \
    " disabled_at_ms, created_at_ms, version, previous_secret_expires_at_ms, seq"
#define DELIVERY_COLUMNS "id, webhook_id, event_id, event_type, state, attempts, last_status_code," \
    " last_response, last_error, next_attempt_at_ms, last_attempt_at_ms, created_at_ms, seq"
#define TYPES_MAX      50
#define URL_MAX        2048
#define EXCERPT_MAX    1000
#define TIMEOUT_MS     10000
#define WINDOW_MS      (3 * 24 * 60 * MINUTE_MS)

/* The waits after the 1st, 2nd ... failed attempt; the last one repeats. */
static const int64_t s_backoff [] = {
    MINUTE_MS, 5 * MINUTE_MS, 30 * MINUTE_MS, 120 * MINUTE_MS, 300 * MINUTE_MS, 600 * MINUTE_MS
};

/* An address range: family, the address's bytes (network order), the prefix's bits. */
typedef struct {
    int family;
    unsigned char bytes [16];
    int bits;
} s_range_t;

#define ALLOW_MAX 32
static s_range_t s_allow [ALLOW_MAX];
static int s_allow_count;
static bool s_allow_http;

/* The ranges refused unless allowed, each with the word the delivery log gives. */
static const struct {
    const char *cidr, *kind;
} s_refused_ranges [] = {
    { "0.0.0.0/8", "unspecified" }, { "10.0.0.0/8", "private" }, { "100.64.0.0/10", "private" },
    { "127.0.0.0/8", "loopback" }, { "169.254.0.0/16", "link-local" },
    { "172.16.0.0/12", "private" }, { "192.168.0.0/16", "private" },
    { "224.0.0.0/4", "multicast" }, { "240.0.0.0/4", "reserved" },
    { "::/128", "unspecified" }, { "::1/128", "loopback" }, { "fc00::/7", "private" },
    { "fe80::/10", "link-local" }, { "ff00::/8", "multicast" },
    { NULL, NULL }
};

/* Reads "10.0.0.0/8" or "::1/128" (no prefix: the one address) into range. Returns 0 or -1. */
static int
s_parse_range (const char *text, s_range_t *range)
{
    char address [64];
    const char *slash = strchr (text, '/');
    size_t length = slash? (size_t) (slash - text): strlen (text);
    if (length == 0 || length >= sizeof address)
        return -1;
    memcpy (address, text, length);
    address [length] = 0;
    memset (range, 0, sizeof *range);
    range->family = strchr (address, ':')? AF_INET6: AF_INET;
    if (inet_pton (range->family, address, range->bytes) != 1)
        return -1;
    int max = range->family == AF_INET? 32: 128;
    range->bits = max;
    if (slash) {
        char *end;
        long bits = strtol (slash + 1, &end, 10);
        if (!slash [1] || *end || bits < 0 || bits > max)
            return -1;
        range->bits = (int) bits;
    }
    return 0;
}

/* True when the address's bytes (family's) lie in range. */
static bool
s_in_range (int family, const unsigned char *bytes, const s_range_t *range)
{
    if (family != range->family)
        return false;
    int whole = range->bits / 8, rest = range->bits % 8;
    if (memcmp (bytes, range->bytes, whole) != 0)
        return false;
    unsigned char mask = (unsigned char) (0xFF << (8 - rest));
    return rest == 0 || (bytes [whole] & mask) == (range->bytes [whole] & mask);
}

/* Why the address is refused ("loopback", "private" ...), or NULL when it may be called: the
   allowed ranges first, then the refused ones; an IPv4 address mapped into IPv6 is judged as
   the IPv4 one. */
static const char *
s_refused (int family, const unsigned char *bytes)
{
    static const unsigned char mapped [12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };
    if (family == AF_INET6 && memcmp (bytes, mapped, 12) == 0)
        return s_refused (AF_INET, bytes + 12);
    for (int i = 0; i < s_allow_count; i++)
        if (s_in_range (family, bytes, &s_allow [i]))
            return NULL;
    for (int i = 0; s_refused_ranges [i].cidr; i++) {
        s_range_t range;
        if (s_parse_range (s_refused_ranges [i].cidr, &range) == 0 && s_in_range (family, bytes, &range))
            return s_refused_ranges [i].kind;
    }
    return NULL;
}

void
webhook_configure (void)
{
    const char *list = config_str ("MESSAGING_WEBHOOK_ALLOW", "");
    while (*list) {
        size_t length = strcspn (list, ", \t");
        if (length) {
            char cidr [64];
            if (length >= sizeof cidr || s_allow_count == ALLOW_MAX) {
                log_error ("MESSAGING_WEBHOOK_ALLOW: too many or too long ranges");
                exit (1);
            }
            memcpy (cidr, list, length);
            cidr [length] = 0;
            if (s_parse_range (cidr, &s_allow [s_allow_count]) == -1) {
                log_error ("MESSAGING_WEBHOOK_ALLOW: '%s' is not a CIDR such as 127.0.0.1/32", cidr);
                exit (1);
            }
            s_allow_count++;
        }
        list += length;
        list += strspn (list, ", \t");
    }
    s_allow_http = config_int ("MESSAGING_WEBHOOK_ALLOW_HTTP", 0, 0, 1) == 1;
}

void
webhook_prepare (pg_t *db)
{
    pg_prepare (db, "webhook_insert",
            "insert into webhook_endpoints (url, event_types, description, secret, created_at_ms)"
            " values ($1, $2::text[], $3, $4, $5) returning " WEBHOOK_COLUMNS ", secret");
    pg_prepare (db, "webhook_get",
            "select " WEBHOOK_COLUMNS " from webhook_endpoints where id = $1");
    pg_prepare (db, "webhook_list",
            "select " WEBHOOK_COLUMNS " from webhook_endpoints where seq < $1 order by seq desc limit $2");
    pg_prepare (db, "webhook_update",
            "update webhook_endpoints set url = $2, event_types = $3::text[], description = $4,"
            " enabled = $5,"
            " disabled_reason = case when $5 then '' else disabled_reason end,"
            " disabled_at_ms = case when $5 then 0 when enabled then $7 else disabled_at_ms end,"
            " version = version + 1 where id = $1 and ($6::bigint = 0 or version = $6)"
            " returning " WEBHOOK_COLUMNS);
    pg_prepare (db, "webhook_rotate",
            "update webhook_endpoints set previous_secret = secret, previous_secret_expires_at_ms = $3,"
            " secret = $2, version = version + 1 where id = $1 returning " WEBHOOK_COLUMNS ", secret");
    pg_prepare (db, "webhook_delete",
            "delete from webhook_endpoints where id = $1 returning " WEBHOOK_COLUMNS);
    pg_prepare (db, "webhook_enqueue",
            "insert into webhook_deliveries (webhook_id, event_id, event_type, body,"
            " next_attempt_at_ms, created_at_ms)"
            " select id, $1, $2, $3, $4, $4 from webhook_endpoints"
            " where enabled and event_types && array [$2, '*']"
            " on conflict (webhook_id, event_id) do nothing");
    pg_prepare (db, "webhook_any",
            "select 1 from webhook_endpoints where enabled and event_types && array [$1, '*'] limit 1");
    pg_prepare (db, "webhook_due",
            "select d.id, d.body, d.window_start_ms, e.id, e.url, e.secret, d.attempts,"
            " case when e.previous_secret_expires_at_ms > $1 then e.previous_secret else '' end"
            " from webhook_deliveries d join webhook_endpoints e on e.id = d.webhook_id"
            " where d.state = 'pending' and d.next_attempt_at_ms <= $1 and e.enabled"
            " order by d.next_attempt_at_ms limit 1 for update of d skip locked");
    pg_prepare (db, "webhook_mark",
            "update webhook_deliveries set state = $2, attempts = attempts + 1,"
            " last_status_code = $3, last_response = $4, last_error = $5, window_start_ms = $6,"
            " next_attempt_at_ms = $7, last_attempt_at_ms = $8 where id = $1");
    pg_prepare (db, "webhook_succeeded",
            "update webhook_endpoints set last_success_at_ms = $2 where id = $1");
    pg_prepare (db, "webhook_disable",
            "update webhook_endpoints set enabled = false, disabled_reason = $2,"
            " disabled_at_ms = $3, version = version + 1"
            " where id = $1 and enabled and last_success_at_ms < $4 returning " WEBHOOK_COLUMNS);
    pg_prepare (db, "webhook_fail_pending",
            "update webhook_deliveries set state = 'failed', next_attempt_at_ms = 0,"
            " last_error = 'the endpoint was disabled' where id in (select id from"
            " webhook_deliveries where webhook_id = $1 and state = 'pending'"
            " for update skip locked)");
    pg_prepare (db, "webhook_deliveries",
            "select " DELIVERY_COLUMNS " from webhook_deliveries where webhook_id = $1"
            " and ($2 = '' or state = $2) and seq < $3 order by seq desc limit $4");
    pg_prepare (db, "webhook_redeliver",
            "update webhook_deliveries set state = 'pending', next_attempt_at_ms = $3,"
            " window_start_ms = 0 where id = $2 and webhook_id = $1 returning " DELIVERY_COLUMNS);
}

/* ---------------------------------------------------------------- deliveries written */

/* This thread's batch of events: whether an endpoint asks for each type it met. */
#define WANTED_TYPES 16
static __thread struct {
    char type [72];
    bool wanted;
} s_wanted [WANTED_TYPES];
static __thread int s_wanted_count;

void
webhook_batch_end (void)
{
    s_wanted_count = 0;
}

/* Whether an enabled endpoint asks for type: 1, 0, or -1 on a database error. */
static int
s_type_wanted (pg_t *db, const char *type)
{
    for (int i = 0; i < s_wanted_count; i++)
        if (strcmp (s_wanted [i].type, type) == 0)
            return s_wanted [i].wanted;
    const char *params [] = { type };
    PGresult *any = pg_run (db, "webhook_any", 1, params);
    if (!any)
        return -1;
    bool wanted = PQntuples (any) > 0;
    PQclear (any);
    if (s_wanted_count < WANTED_TYPES && strlen (type) < sizeof s_wanted [0].type) {
        snprintf (s_wanted [s_wanted_count].type, sizeof s_wanted [0].type, "%s", type);
        s_wanted [s_wanted_count++].wanted = wanted;
    }
    return wanted;
}

int
webhook_enqueue (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload,
                 int64_t now_ms)
{
    int wanted = s_type_wanted (db, event->type);
    if (wanted <= 0)
        return wanted;
    json_t *body = json_object ();
    json_object_set_new (body, "id", json_string (event->id));
    json_object_set_new (body, "type", json_string (event->type));
    json_object_set_new (body, "created", json_integer (event->occurred_at_ms / 1000));
    json_object_set_new (body, "data", payload? pb_json_from_message (payload): json_object ());
    char *text = json_dumps (body, JSON_COMPACT);
    json_decref (body);
    char now [24];
    const char *params [] = { event->id, event->type, text, NUM (now, now_ms) };
    int rc = pg_defer (db, "webhook_enqueue", 4, params);
    free (text);
    return rc;
}

/* ---------------------------------------------------------------- deliveries sent */

/* The answer's first bytes, as text a reply can show. */
typedef struct {
    char text [EXCERPT_MAX + 1];
    size_t length;
} s_excerpt_t;

static size_t
s_collect (char *data, size_t size, size_t count, void *arg)
{
    s_excerpt_t *excerpt = arg;
    size_t bytes = size * count;
    size_t room = EXCERPT_MAX - excerpt->length;
    size_t take = bytes < room? bytes: room;
    memcpy (excerpt->text + excerpt->length, data, take);
    excerpt->length += take;
    excerpt->text [excerpt->length] = 0;
    return bytes;
}

/* Makes text valid UTF-8 without control characters (but line breaks and tabs) in place, as
   PostgreSQL and a JSON reply take it: each byte glib's validator refuses (overlong forms,
   surrogates, past U+10FFFF, stray bytes) and each control character becomes '?'. */
static void
s_clean (char *text)
{
    const gchar *bad;
    for (char *from = text; !g_utf8_validate (from, -1, &bad); from = (char *) bad + 1)
        *(char *) bad = '?';
    for (char *p = text; *p; p++)
        if (((unsigned char) *p < 0x20 || *p == 0x7F) && *p != '\n' && *p != '\r' && *p != '\t')
            *p = '?';
}

/* libcurl's socket opener: every address the name resolved to is checked as it is connected
   to; a refused one gets no socket, and why goes into the attempt's error. */
static curl_socket_t
s_open_socket (void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
    char *why = arg;
    (void) purpose;
    const unsigned char *bytes = NULL;
    char text [INET6_ADDRSTRLEN] = "?";
    if (address->family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) &address->addr;
        bytes = (const unsigned char *) &in->sin_addr;
    }
    else
    if (address->family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &address->addr;
        bytes = (const unsigned char *) &in6->sin6_addr;
    }
    const char *kind = bytes? s_refused (address->family, bytes): "unknown";
    if (kind) {
        if (bytes)
            inet_ntop (address->family, bytes, text, sizeof text);
        snprintf (why, 256, "the address %s is refused (%s; MESSAGING_WEBHOOK_ALLOW can allow it)",
                  text, kind);
        return CURL_SOCKET_BAD;
    }
    return socket (address->family, address->socktype, address->protocol);
}

/* The signature header's value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">, and a
   second v1 by the previous secret while a rotation's overlap lasts (previous not ""). */
static void
s_sign (const char *secret, const char *previous, const char *body, int64_t now_ms, char *header,
        size_t size)
{
    char stamp [24];
    snprintf (stamp, sizeof stamp, "%lld", (long long) (now_ms / 1000));
    size_t length = strlen (stamp) + 1 + strlen (body);
    char *signed_text = malloc (length + 1);
    assert (signed_text);
    snprintf (signed_text, length + 1, "%s.%s", stamp, body);
    int used = snprintf (header, size, "Kaiin-Signature: t=%s", stamp);
    for (const char *key = secret; key && *key; key = key == secret? previous: NULL) {
        unsigned char digest [EVP_MAX_MD_SIZE];
        unsigned int digest_length = 0;
        HMAC (EVP_sha256 (), key, (int) strlen (key), (const unsigned char *) signed_text, length,
              digest, &digest_length);
        used += snprintf (header + used, size - used, ",v1=");
        for (unsigned int i = 0; i < digest_length && (size_t) used + 3 <= size; i++)
            used += snprintf (header + used, size - used, "%02x", digest [i]);
    }
    free (signed_text);
}

/* One attempt: POSTs body to url. Returns the answer's status (0: none, then why in error),
   its first bytes in excerpt. */
static long
s_post (const char *url, const char *secret, const char *previous, const char *delivery_id,
        const char *body, int64_t now_ms, s_excerpt_t *excerpt, char *error)
{
    CURL *curl = curl_easy_init ();
    if (!curl) {
        snprintf (error, 256, "cannot start an HTTP client");
        return 0;
    }
    char signature [256], id_header [96], curl_error [CURL_ERROR_SIZE] = "";
    s_sign (secret, previous, body, now_ms, signature, sizeof signature);
    snprintf (id_header, sizeof id_header, "Kaiin-Webhook-Id: %s", delivery_id);
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    headers = curl_slist_append (headers, id_header);
    headers = curl_slist_append (headers, signature);
    headers = curl_slist_append (headers, "Expect:");
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt (curl, CURLOPT_PROXY, "");
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long) TIMEOUT_MS);
    curl_easy_setopt (curl, CURLOPT_OPENSOCKETFUNCTION, s_open_socket);
    curl_easy_setopt (curl, CURLOPT_OPENSOCKETDATA, error);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE, (long) strlen (body));
    curl_easy_setopt (curl, CURLOPT_USERAGENT, "Kaiin-Webhooks/1");
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, excerpt);
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, curl_error);
    CURLcode code = curl_easy_perform (curl);
    long status = 0;
    if (code == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    else
    if (!*error)
        snprintf (error, 256, "%s", *curl_error? curl_error: curl_easy_strerror (code));
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    s_clean (excerpt->text);
    return status;
}

/* Disables the endpoint when nothing it was sent succeeded since since_ms, fails its pending
   deliveries and tells staff (event webhook.disabled). Returns 0 or -1. A delivery another
   tick is sending (locked) is left to it: waiting for it while holding the endpoint would
   deadlock with its own update of the endpoint; it stays pending, not sent while disabled. */
static int
s_disable (pg_t *db, const char *webhook_id, const char *last_error, int64_t since_ms, int64_t now_ms)
{
    char reason [512], now [24], since [24];
    snprintf (reason, sizeof reason, "every delivery failed for 3 days (the last: %.400s)", last_error);
    const char *params [] = { webhook_id, reason, NUM (now, now_ms), NUM (since, since_ms) };
    PGresult *result = pg_run (db, "webhook_disable", 4, params);
    if (!result)
        return -1;
    int rc = 0;
    if (PQntuples (result) == 1) {
        ProtobufCMessage *endpoint = pg_row_message (result, 0, &kaiin__messaging__webhook_endpoint__descriptor);
        const char *id [] = { webhook_id };
        PGresult *failed = pg_run (db, "webhook_fail_pending", 1, id);
        rc = failed && outbox_append (db, "webhook.disabled", webhook_id, endpoint, now_ms) == 0? 0: -1;
        PQclear (failed);
        protobuf_c_message_free_unpacked (endpoint, NULL);
        log_warn ("webhook '%s' disabled: %s", webhook_id, reason);
    }
    PQclear (result);
    return rc;
}

/* When the attempt after the failure of attempt number attempts (1, 2 ...) is due: after its
   wait, but not after the window's end, which is the last. 0 when the window is over. */
static int64_t
s_next_attempt (int attempts, int64_t window_start, int64_t now_ms)
{
    int waits = (int) (sizeof s_backoff / sizeof s_backoff [0]);
    int64_t next = now_ms + s_backoff [attempts <= waits? attempts - 1: waits - 1];
    int64_t end = window_start + WINDOW_MS;
    return now_ms >= end? 0: next < end? next: end;
}

int
webhook_tick (pg_t *db, int64_t now_ms)
{
    int done;
    PGresult *due = messaging_take_due (db, "webhook_due", now_ms, &done);
    if (!due)
        return done;
    const char *id = PQgetvalue (due, 0, 0), *body = PQgetvalue (due, 0, 1);
    int64_t window_start = atoll (PQgetvalue (due, 0, 2));
    const char *webhook_id = PQgetvalue (due, 0, 3), *url = PQgetvalue (due, 0, 4);
    const char *secret = PQgetvalue (due, 0, 5), *previous = PQgetvalue (due, 0, 7);
    int attempts = atoi (PQgetvalue (due, 0, 6)) + 1;
    if (window_start == 0)
        window_start = now_ms;
    s_excerpt_t excerpt = { "", 0 };
    char error [256] = "";
    long status = s_post (url, secret, previous, id, body, now_ms, &excerpt, error);
    bool success = status >= 200 && status < 300;
    if (!success && status)
        snprintf (error, sizeof error, "the endpoint answered %ld", status);
    int64_t next = success? 0: s_next_attempt (attempts, window_start, now_ms);
    const char *state = success? "succeeded": next? "pending": "failed";
    char code [24], start [24], next_text [24], now [24];
    const char *mark [] = { id, state, NUM (code, status), excerpt.text, error,
                            NUM (start, window_start), NUM (next_text, next), NUM (now, now_ms) };
    PGresult *marked = pg_run (db, "webhook_mark", 8, mark);
    int rc = marked? 0: -1;
    PQclear (marked);
    if (rc == 0 && success) {
        const char *params [] = { webhook_id, now };
        PGresult *result = pg_run (db, "webhook_succeeded", 2, params);
        rc = result? 0: -1;
        PQclear (result);
    }
    if (rc == 0 && strcmp (state, "failed") == 0)
        rc = s_disable (db, webhook_id, error, window_start, now_ms);
    PQclear (due);
    if (rc == -1 || pg_commit (db) == -1)
        goto fail;
    return 1;
fail:
    pg_rollback (db);
    return -1;
}

/* ---------------------------------------------------------------- endpoints */

/* What a URL that cannot be registered is told (messaging's table of messages has each). */
#define URL_HTTPS  "must be an absolute https URL"
#define URL_HTTP   "must be an absolute http or https URL"
#define URL_INSIDE "must not point at a private, loopback, link-local or other internal address"

/* Why host (a URL's: a name, an IPv4 address, or an IPv6 one in brackets) is refused, or
   NULL. A name is judged when it is resolved, at each attempt; but localhost's are refused at
   once. */
static const char *
s_host_problem (const char *host)
{
    char literal [64];
    size_t length = strlen (host);
    if (length >= 2 && host [0] == '[' && host [length - 1] == ']' && length - 2 < sizeof literal) {
        memcpy (literal, host + 1, length - 2);
        literal [length - 2] = 0;
        literal [strcspn (literal, "%")] = 0;
    }
    else
        snprintf (literal, sizeof literal, "%s", host);
    unsigned char bytes [16];
    int family = strchr (literal, ':')? AF_INET6: AF_INET;
    if (inet_pton (family, literal, bytes) == 1)
        return s_refused (family, bytes)? URL_INSIDE: NULL;
    size_t name_length = strlen (host);
    if (strcasecmp (host, "localhost") == 0
    ||  (name_length > 10 && strcasecmp (host + name_length - 10, ".localhost") == 0))
        return URL_INSIDE;
    return NULL;
}

/* Why url cannot be registered, or NULL: not an absolute URL, not https (or http when
   allowed), with a user name or password, or at a refused address. */
static const char *
s_url_problem (const char *url)
{
    const char *malformed = s_allow_http? URL_HTTP: URL_HTTPS;
    if (strlen (url) > URL_MAX)
        return malformed;
    CURLU *parsed = curl_url ();
    char *scheme = NULL, *host = NULL, *user = NULL;
    const char *problem = malformed;
    if (parsed
    &&  curl_url_set (parsed, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK
    &&  curl_url_get (parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK
    &&  curl_url_get (parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK && *host
    &&  curl_url_get (parsed, CURLUPART_USER, &user, 0) != CURLUE_OK
    &&  (strcasecmp (scheme, "https") == 0 || (s_allow_http && strcasecmp (scheme, "http") == 0)))
        problem = s_host_problem (host);
    curl_free (scheme);
    curl_free (host);
    curl_free (user);
    curl_url_cleanup (parsed);
    return problem;
}

/* Field errors for an endpoint as it would be saved. */
static void
s_check (svc_reply_t *reply, const Kaiin__Messaging__WebhookEndpoint *endpoint)
{
    const char *problem = s_url_problem (endpoint->url);
    if (problem && strcmp (problem, URL_INSIDE) == 0)   /* a literal: its Japanese is looked up */
        svc_field_error (reply, "url", URL_INSIDE);
    else
    if (problem && strcmp (problem, URL_HTTP) == 0)
        svc_field_error (reply, "url", URL_HTTP);
    else
    if (problem)
        svc_field_error (reply, "url", URL_HTTPS);
    bool good = endpoint->n_event_types >= 1 && endpoint->n_event_types <= TYPES_MAX;
    for (size_t i = 0; good && i < endpoint->n_event_types; i++)
        good = strcmp (endpoint->event_types [i], "*") == 0
            || trigger_event_type_valid (endpoint->event_types [i]);
    if (!good)
        svc_field_error (reply, "event_types",
                         "must be 1 to %d event types such as invoice.paid, or \"*\"", TYPES_MAX);
    if (*endpoint->description)
        messaging_check_text (reply, "description", endpoint->description, 500, false);
}

/* The event types as a PostgreSQL array literal: a new string the caller frees. The types
   were checked: no quote or backslash in them. */
static char *
s_types_array (char **types, size_t count)
{
    size_t size = 3;
    for (size_t i = 0; i < count; i++)
        size += strlen (types [i]) + 3;
    char *text = malloc (size);
    size_t used = 0;
    text [used++] = '{';
    for (size_t i = 0; i < count; i++)
        used += snprintf (text + used, size - used, "%s\"%s\"", i? ",": "", types [i]);
    snprintf (text + used, size - used, "}");
    return text;
}

#define SECRET_BYTES 32
#define SECRET_SIZE (7 + 2 * SECRET_BYTES)

/* A new signing secret, whsec_ and 64 hex digits, into secret (SECRET_SIZE bytes); INTERNAL on
   reply when the system has no randomness to give. */
static void
s_new_secret (svc_reply_t *reply, char *secret)
{
    unsigned char random [SECRET_BYTES];
    if (RAND_bytes (random, sizeof random) != 1) {
        svc_fail (reply, KAIIN__STATUS__INTERNAL, "cannot make a secret");
        return;
    }
    strcpy (secret, "whsec_");
    for (size_t i = 0; i < sizeof random; i++)
        snprintf (secret + 6 + 2 * i, 3, "%02x", random [i]);
}

int
webhook_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__WebhookEndpoint *endpoint = (Kaiin__Messaging__WebhookEndpoint *)
        svc_unpack (request, &kaiin__messaging__webhook_endpoint__descriptor, reply);
    if (!endpoint)
        return -1;
    s_check (reply, endpoint);
    int rc = -1;
    char secret [SECRET_SIZE];
    if (reply->status == KAIIN__STATUS__OK)
        s_new_secret (reply, secret);
    if (reply->status == KAIIN__STATUS__OK) {
        char now [24];
        char *types = s_types_array (endpoint->event_types, endpoint->n_event_types);
        const char *params [] = { endpoint->url, types, endpoint->description, secret,
                                  NUM (now, messaging_now (request)) };
        rc = messaging_reply_row (request, reply, "webhook_insert", 5, params,
                                  &kaiin__messaging__webhook_endpoint__descriptor, "webhook not found");
        free (types);
    }
    protobuf_c_message_free_unpacked (&endpoint->base, NULL);
    return rc;
}

int
webhook_api_get (svc_request_t *request, svc_reply_t *reply)
{
    return messaging_reply_by_id (request, reply, "webhook_get",
                                  &kaiin__messaging__webhook_endpoint__descriptor, "webhook not found");
}

int
webhook_api_delete (svc_request_t *request, svc_reply_t *reply)
{
    return messaging_reply_by_id (request, reply, "webhook_delete",
                                  &kaiin__messaging__webhook_endpoint__descriptor, "webhook not found");
}

int
webhook_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__ListRequest *list = (Kaiin__Messaging__ListRequest *)
        svc_unpack (request, &kaiin__messaging__list_request__descriptor, reply);
    if (!list)
        return -1;
    const char *params [2];
    int rc = messaging_reply_list (request, reply, "webhook_list", 2, params, list,
                                   &kaiin__messaging__webhook_list__descriptor);
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

int
webhook_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__WebhookUpdateRequest *update = (Kaiin__Messaging__WebhookUpdateRequest *)
        svc_unpack (request, &kaiin__messaging__webhook_update_request__descriptor, reply);
    if (!update)
        return -1;
    const char *id [] = { update->id };
    PGresult *found = messaging_uuid (update->id)? messaging_run (request, reply, "webhook_get", 1, id): NULL;
    int rc = -1;
    if (found && PQntuples (found) == 1) {
        Kaiin__Messaging__WebhookEndpoint *now = (Kaiin__Messaging__WebhookEndpoint *)
            pg_row_message (found, 0, &kaiin__messaging__webhook_endpoint__descriptor);
        Kaiin__Messaging__WebhookEndpoint merged = *now;
        const Kaiin__Messaging__WebhookEndpoint *change = update->webhook;
        if (change) {
            if (SVC_MASKED (update, "url")) merged.url = change->url;
            if (SVC_MASKED (update, "description")) merged.description = change->description;
            if (SVC_MASKED (update, "enabled")) merged.enabled = change->enabled;
            if (SVC_MASKED (update, "event_types")) {
                merged.event_types = change->event_types;
                merged.n_event_types = change->n_event_types;
            }
        }
        s_check (reply, &merged);
        if (reply->status == KAIIN__STATUS__OK) {
            char *types = s_types_array (merged.event_types, merged.n_event_types);
            char version [24], at [24];
            const char *params [] = { update->id, merged.url, types, merged.description,
                                      merged.enabled? "t": "f", NUM (version, update->if_version),
                                      NUM (at, messaging_now (request)) };
            rc = messaging_reply_changed (request, reply, "webhook_update", 7, params,
                                          &kaiin__messaging__webhook_endpoint__descriptor,
                                          "the webhook was changed meanwhile");
            free (types);
        }
        protobuf_c_message_free_unpacked (&now->base, NULL);
    }
    else
    if (reply->status == KAIIN__STATUS__OK)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "webhook not found");
    PQclear (found);
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}

/* ---------------------------------------------------------------- the delivery log */

int
webhook_api_deliveries (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__ListRequest *list = (Kaiin__Messaging__ListRequest *)
        svc_unpack (request, &kaiin__messaging__list_request__descriptor, reply);
    if (!list)
        return -1;
    int found = messaging_exists (request->db, "webhook_get", list->webhook_id);
    int rc = -1;
    if (found == -1)
        svc_db_fail (reply, request->db);
    else
    if (found == 0)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "webhook not found");
    else {
        const char *params [4] = { list->webhook_id, list->state };
        rc = messaging_reply_list (request, reply, "webhook_deliveries", 4, params, list,
                                   &kaiin__messaging__webhook_delivery_list__descriptor);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

int
webhook_api_redeliver (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__WebhookRedeliverRequest *redeliver = (Kaiin__Messaging__WebhookRedeliverRequest *)
        svc_unpack (request, &kaiin__messaging__webhook_redeliver_request__descriptor, reply);
    if (!redeliver)
        return -1;
    int rc = -1;
    if (!messaging_uuid (redeliver->id) || !messaging_uuid (redeliver->delivery_id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "delivery not found");
    else {
        char now [24];
        const char *params [] = { redeliver->id, redeliver->delivery_id, NUM (now, messaging_now (request)) };
        rc = messaging_reply_row (request, reply, "webhook_redeliver", 3, params,
                                  &kaiin__messaging__webhook_delivery__descriptor, "delivery not found");
    }
    protobuf_c_message_free_unpacked (&redeliver->base, NULL);
    return rc;
}

int
webhook_api_rotate_secret (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__WebhookRotateRequest *rotate = (Kaiin__Messaging__WebhookRotateRequest *)
        svc_unpack (request, &kaiin__messaging__webhook_rotate_request__descriptor, reply);
    if (!rotate)
        return -1;
    int rc = -1;
    char secret [SECRET_SIZE];
    s_new_secret (reply, secret);
    if (reply->status == KAIIN__STATUS__OK) {
        char until [24];
        int64_t hours = rotate->expire_after_hours;
        const char *params [] = { rotate->id, secret, NUM (until, messaging_now (request) + hours * 3600 * 1000) };
        rc = messaging_uuid (rotate->id)
            ? messaging_reply_row (request, reply, "webhook_rotate", 3, params,
                                   &kaiin__messaging__webhook_endpoint__descriptor, "webhook not found")
            : svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "webhook not found");
    }
    protobuf_c_message_free_unpacked (&rotate->base, NULL);
    return rc;
}
