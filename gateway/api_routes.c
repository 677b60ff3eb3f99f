/* api_routes.c - the routes services announce (proto/api.proto): matched against a request,
   authorised by the permission and member rule the service declared, and served by handing
   the request to the service, which reads the JSON and answers in JSON */
#include "api_routes.h"
#include "api.pb-c.h"
#include "clock.h"
#include "cookie.h"
#include "json_in.h"
#include "log.h"
#include "metrics.h"
#include "session.h"
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What services announced, as one immutable snapshot. */
typedef struct {
    Kaiin__ServiceApi **apis;
    size_t count;
} s_table_t;

static mdp_broker_t *s_broker;
static s_table_t *s_table;              /* atomic: the current snapshot */
static uint64_t s_generation = UINT64_MAX;   /* the broker's count it was made at: none yet */
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static s_table_t **s_retired;           /* earlier snapshots, freed at the end (rare) */
static size_t s_retired_count;

static const char *const s_json_types [] = { "application/json", "application/merge-patch+json", NULL };

void
api_routes_init (mdp_broker_t *broker)
{
    s_broker = broker;
}

static void
s_table_free (s_table_t *table)
{
    for (size_t i = 0; table && i < table->count; i++)
        kaiin__service_api__free_unpacked (table->apis [i], NULL);
    if (table)
        free (table->apis);
    free (table);
}

void
api_routes_destroy (void)
{
    s_table_free (s_table);
    s_table = NULL;
    for (size_t i = 0; i < s_retired_count; i++)
        s_table_free (s_retired [i]);
    free (s_retired);
    s_retired = NULL;
    s_retired_count = 0;
}

static void
s_collect (void *arg, const char *service, const void *data, size_t size)
{
    s_table_t *table = arg;
    for (size_t i = 0; i < table->count; i++)
        if (strcmp (table->apis [i]->service, service) == 0)
            return;                     /* kept in Redis, and announced anew since */
    Kaiin__ServiceApi *api = kaiin__service_api__unpack (NULL, size, data);
    if (!api) {
        log_warn ("the routes service '%s' announced cannot be read", service);
        return;
    }
    table->apis = realloc (table->apis, (table->count + 1) * sizeof *table->apis);
    assert (table->apis);
    table->apis [table->count++] = api;
}

/* The current snapshot, made anew when a service announced something new. */
static const s_table_t *
s_current (void)
{
    uint64_t generation = mdp_broker_announced (s_broker);
    if (generation != __atomic_load_n (&s_generation, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock (&s_lock);
        if (generation != s_generation) {
            s_table_t *table = calloc (1, sizeof *table);
            assert (table);
            /* What live workers announced, kept for a gateway started while they are down;
               then what was kept of services that have not announced since. */
            mdp_broker_announcements (s_broker, s_collect, table);
            for (size_t i = 0; i < table->count; i++) {
                size_t size = kaiin__service_api__get_packed_size (table->apis [i]);
                uint8_t *packed = malloc (size + 1);
                assert (packed);
                kaiin__service_api__pack (table->apis [i], packed);
                session_api_keep (table->apis [i]->service, packed, size);
                free (packed);
            }
            session_api_kept (s_collect, table);
            if (s_table) {
                s_retired = realloc (s_retired, (s_retired_count + 1) * sizeof *s_retired);
                assert (s_retired);
                s_retired [s_retired_count++] = s_table;
            }
            __atomic_store_n (&s_table, table, __ATOMIC_RELEASE);
            __atomic_store_n (&s_generation, generation, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock (&s_lock);
    }
    return __atomic_load_n (&s_table, __ATOMIC_ACQUIRE);
}

/* Matches path against pattern; on a match keeps each {name}'s segment in request (when not
   NULL). */
static bool
s_match (const char *pattern, const char *path, http_request_t *request)
{
    int count = 0;
    while (*pattern && *path) {
        if (*pattern == '{') {
            size_t name = strcspn (pattern + 1, "}"), length = strcspn (path, "/");
            if (length == 0 || length >= sizeof request->api_params [0][1] || count == 4
            ||  name >= sizeof request->api_params [0][0])
                return false;
            if (request) {
                snprintf (request->api_params [count][0], sizeof request->api_params [0][0], "%.*s",
                          (int) name, pattern + 1);
                snprintf (request->api_params [count][1], sizeof request->api_params [0][1], "%.*s",
                          (int) length, path);
            }
            count++;
            path += length;
            pattern += name + 2;
        }
        else
        if (*pattern++ != *path++)
            return false;
    }
    if (*pattern || *path)
        return false;
    if (request)
        request->api_param_count = count;
    return true;
}

bool
api_routes_match (http_request_t *request, const char *verb, char *allow, size_t allow_size)
{
    const s_table_t *table = s_current ();
    for (size_t i = 0; table && i < table->count; i++)
        for (size_t j = 0; j < table->apis [i]->n_routes; j++) {
            const Kaiin__Route *route = table->apis [i]->routes [j];
            if (!s_match (route->path, request->path, NULL))
                continue;
            if (strcmp (route->verb, verb) != 0) {
                size_t used = strlen (allow);
                if (!strstr (allow, route->verb))
                    snprintf (allow + used, allow_size - used, "%s%s", used? ", ": "", route->verb);
                continue;
            }
            s_match (route->path, request->path, request);
            request->api = route;
            request->route = metrics_route (route->verb, route->path);
            return true;
        }
    return false;
}

bool
api_routes_open (const http_request_t *request)
{
    return ((const Kaiin__Route *) request->api)->open;
}

/* The first announced route for verb whose path template is path (exact) or matches it. */
static const Kaiin__Route *
s_route_for (const char *verb, const char *path, bool exact)
{
    const s_table_t *table = s_current ();
    for (size_t i = 0; table && i < table->count; i++)
        for (size_t j = 0; j < table->apis [i]->n_routes; j++) {
            const Kaiin__Route *route = table->apis [i]->routes [j];
            if (strcmp (route->verb, verb) == 0
            &&  (exact? strcmp (route->path, path) == 0: s_match (route->path, path, NULL)))
                return route;
        }
    return NULL;
}

size_t
api_routes_body_limit (const char *verb, const char *path)
{
    const Kaiin__Route *route = s_route_for (verb, path, false);
    return route? route->max_body: 0;
}

bool
api_routes_streamed (const char *verb, const char *path)
{
    const Kaiin__Route *route = s_route_for (verb, path, false);
    return route && route->streamed;
}

bool
api_routes_signs_in (const char *verb, const char *path)
{
    const Kaiin__Route *route = s_route_for (verb, path, true);
    return route && *route->signs_in;
}

bool
api_routes_key_method (char *method, size_t size)
{
    const s_table_t *table = s_current ();
    for (size_t i = 0; table && i < table->count; i++)
        if (*table->apis [i]->key_method) {
            snprintf (method, size, "%s", table->apis [i]->key_method);
            return true;
        }
    return false;
}

/* True when role holds permission, as the services that declared it say. */
static bool
s_role_may (const char *role, const char *permission)
{
    const s_table_t *table = s_current ();
    for (size_t i = 0; table && i < table->count; i++)
        for (size_t j = 0; j < table->apis [i]->n_permissions; j++) {
            const Kaiin__Permission *declared = table->apis [i]->permissions [j];
            if (strcmp (declared->name, permission) != 0)
                continue;
            for (size_t k = 0; k < declared->n_roles; k++)
                if (strcmp (declared->roles [k], role) == 0)
                    return true;
        }
    return false;
}

json_t *
api_routes_permissions_of (const char *role)
{
    const s_table_t *table = s_current ();
    json_t *names = json_array ();
    for (size_t i = 0; table && i < table->count; i++)
        for (size_t j = 0; j < table->apis [i]->n_permissions; j++) {
            const char *name = table->apis [i]->permissions [j]->name;
            bool listed = false;
            for (size_t k = 0; k < json_array_size (names); k++)
                listed |= strcmp (json_string_value (json_array_get (names, k)), name) == 0;
            if (!listed && s_role_may (role, name))
                json_array_append_new (names, json_string (name));
        }
    return names;
}

/* --- logins: the throttle before the call, the session after it --------------------------- */

/* What a login notes in request->scratch across its call: its kind, the Retry-After, and the
   text the throttle knows the account by. Kinds: 'N' (no throttle: the body names no email, so
   the service refuses it), 'S' (staff: the email as given), a member's 'K' or 'U' (the address
   is known or not) and 'L' (refused by the throttle: the service only records the attempt),
   with the account's hash. */
static void
s_login_note (http_request_t *request, char kind, const char *text, int retry_after_s)
{
    snprintf (request->scratch, sizeof request->scratch, "%c%d %s", kind, retry_after_s, text);
}

static void
s_too_many (http_request_t *request, int retry_after_s)
{
    char retry [16];
    snprintf (retry, sizeof retry, "%d", retry_after_s > 0? retry_after_s: 1);
    http_problem (request, 429, "too many failed logins: try again later", NULL, NULL);
    MHD_add_response_header (request->response, "Retry-After", retry);
}

/* Settles a login's throttle by the service's verdict (status; OK also when it did not answer,
   with answered false). Returns true when it answered the request itself (429). */
static bool
s_login_settle (http_request_t *request, bool answered, Kaiin__Status status)
{
    char kind = request->scratch [0];
    int retry_after_s = 0, at = 0;
    sscanf (request->scratch + 1, "%d %n", &retry_after_s, &at);
    const char *text = request->scratch + 1 + at;
    if (kind == 'S' && answered && status == KAIIN__STATUS__UNAUTHENTICATED)
        session_login_failed (text, request->client_ip);
    if (kind == 'L') {
        s_too_many (request, retry_after_s);     /* the refusal stands, recorded or not */
        return true;
    }
    if (kind == 'K' || kind == 'U')
        session_member_login_end (text, request->client_ip, kind == 'K',
            !answered? SESSION_MEMBER_LOGIN_UNDECIDED
            : status == KAIIN__STATUS__OK? SESSION_MEMBER_LOGIN_OK
            : status == KAIIN__STATUS__UNAUTHENTICATED? SESSION_MEMBER_LOGIN_FAILED
            : SESSION_MEMBER_LOGIN_UNDECIDED);
    return false;
}

static void
s_on_login_unanswered (http_request_t *request, unsigned int status, const char *message)
{
    if (!s_login_settle (request, false, KAIIN__STATUS__OK))
        http_problem (request, status, message, NULL, NULL);
}

/* Checks the throttle of a login route before the service spends a password hash on it.
   Returns 0 to go on (with *locked when the service is only to record the attempt), or -1
   after answering. */
static int
s_login_begin (http_request_t *request, const char *kind, bool *locked)
{
    *locked = false;
    json_t *body = json_loadb (request->body? request->body: "", request->body_size, 0, NULL);
    const char *email = json_string_value (json_object_get (body, "email"));
    int refused = 0;
    if (!email || !*email)
        s_login_note (request, 'N', "-", 0);
    else
    if (strcmp (kind, "staff") == 0) {
        refused = session_login_blocked (email, request->client_ip);
        s_login_note (request, 'S', email, 3600);
        if (refused == 1)
            s_too_many (request, 3600);
    }
    else {
        char account_hash [65];
        bool known = false;
        int retry_after_s = 0;
        session_member_account_hash (email, account_hash);
        refused = session_member_login_begin (account_hash, request->client_ip, &known, &retry_after_s);
        s_login_note (request, refused == 1? 'L': known? 'K': 'U', account_hash, retry_after_s);
        *locked = refused == 1;
        refused = refused == -1? -1: 0;
    }
    json_decref (body);
    if (refused == -1)
        http_problem (request, 503, "the session store is not available right now", NULL, NULL);
    request->on_error = s_on_login_unanswered;
    return refused? -1: 0;
}

/* Makes the session a login's reply names, and answers its token with the reply's JSON. */
static void
s_answer_session (http_request_t *request, const Kaiin__Reply *reply, unsigned int status)
{
    const Kaiin__SessionStart *session = reply->session;
    char token [80], csrf [65];
    int made = strcmp (session->kind, "staff") == 0
        ? session_create (session->id, session->role, token, csrf, clock_now_ms ())
        : session_member_create (session->id, token, csrf, clock_now_ms ());
    if (made == -1) {
        http_problem (request, 503, "the session store is not available right now", NULL, NULL);
        return;
    }
    json_t *body = json_pack ("{s:s, s:s, s:i}", "token", token, "token_type", "Bearer",
                              "expires_in", SESSION_IDLE_S);
    json_t *more = json_loadb ((const char *) reply->json.data, reply->json.len, 0, NULL);
    json_object_update (body, more);
    json_decref (more);
    http_respond_json (request, status, body);
    cookie_set (request, session->kind, token, csrf);      /* for the screens */
}

/* Ends the sessions (or forgets the keys) a reply names. Returns 0, or -1 when the session
   store cannot be reached. */
static int
s_end_sessions (http_request_t *request, const Kaiin__Reply *reply)
{
    int rc = 0;
    for (size_t i = 0; i < reply->n_ends; i++) {
        const Kaiin__SessionEnd *end = reply->ends [i];
        bool own = end->keep_caller && strcmp (request->caller.kind, "member") == 0;
        if (strcmp (end->kind, "staff") == 0)
            rc |= session_revoke_staff (end->id);
        else
        if (strcmp (end->kind, "member") == 0)
            rc |= session_member_revoke (end->id, own? request->caller.token_hash: NULL);
        else
        if (strcmp (end->kind, "api_key") == 0)
            session_key_forget (end->id);
    }
    return rc? -1: 0;
}

/* The reply, as the service wrote it: the route's status, the new resource's place, the
   sessions it starts or ends, and the headers the service added. */
static void
s_on_reply (http_request_t *request, const Kaiin__Reply *reply)
{
    const Kaiin__Route *route = request->api;
    if (request->paging) {
        http_page_came (request, reply);
        return;
    }
    if (*route->signs_in && s_login_settle (request, true, reply->status))
        return;
    if (route->streamed && !request->body_ended && reply->status == KAIIN__STATUS__OK) {
        /* A slice taken: the next goes to what the first one's reply named. */
        json_t *body = json_loadb ((const char *) reply->json.data, reply->json.len, 0, NULL);
        const char *id = json_string_value (json_object_get (body, "id"));
        if (id && *id)
            http_slice_taken (request, id);
        else
            http_problem (request, 502, "the service sent a reply that cannot be read", NULL, NULL);
        json_decref (body);
        return;
    }
    if (reply->status != KAIIN__STATUS__OK) {
        http_reply_problem (request, reply);
        return;
    }
    if (s_end_sessions (request, reply) == -1) {
        http_problem (request, 503, "the change is saved, but its sessions could not be ended yet",
                      NULL, NULL);
        return;
    }
    unsigned int status = route->status? route->status: 200;
    if (reply->http_status >= 400) {
        json_t *members = json_loadb ((const char *) reply->json.data, reply->json.len, 0, NULL);
        if (!json_is_object (members)) {
            json_decref (members);
            members = json_object ();
        }
        if (*reply->problem_type)
            json_object_update_new (members, json_pack ("{s:s, s:s}", "type", reply->problem_type,
                                                        "title", reply->problem_title));
        http_problem_coded (request, reply->http_status, reply->message, reply->code, NULL, members);
        return;
    }
    snprintf (request->etag, sizeof request->etag, "%s", reply->etag);
    if (reply->session) {
        s_answer_session (request, reply, status);
        return;
    }
    if (*route->location) {
        json_t *body = json_loadb ((const char *) reply->json.data, reply->json.len, 0, NULL);
        const char *id = json_string_value (json_object_get (body, "id"));
        const char *at = strstr (route->location, "{id}");
        if (id && at)
            snprintf (request->location, sizeof request->location, "%.*s%s%s",
                      (int) (at - route->location), route->location, id, at + 4);
        json_decref (body);
    }
    if (status == 204)
        http_respond_text (request, 204, "text/plain", "", 0);
    else
    if (route->paged)
        http_respond_pages (request, status, *reply->content_type? reply->content_type: "application/json",
                            (const char *) reply->json.data, reply->json.len, reply->next_page);
    else
        http_respond_text (request, status, *reply->content_type? reply->content_type: "application/json",
                           (const char *) reply->json.data, reply->json.len);
    for (size_t i = 0; i < reply->n_headers; i++)
        MHD_add_response_header (request->response, reply->headers [i]->name, reply->headers [i]->value);
}

/* Adds a query parameter to the call. */
static enum MHD_Result
s_query (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    Kaiin__HttpRequest *http = cls;
    Kaiin__HttpParam *param = malloc (sizeof *param);
    assert (param);
    kaiin__http_param__init (param);
    param->name = (char *) key;
    param->value = (char *) (value? value: "");
    param->query = true;
    http->params = realloc (http->params, (http->n_params + 1) * sizeof *http->params);
    assert (http->params);
    http->params [http->n_params++] = param;
    return MHD_YES;
}

/* Hands the request to the route's service. */
static void
s_call (http_request_t *request)
{
    const Kaiin__Route *route = request->api;
    if (request->body_size && !route->raw_body
    &&  !json_in_media_type_ok (http_header (request, "Content-Type"), s_json_types)) {
        http_problem (request, 415, "the body must be sent as application/json", NULL, NULL);
        return;
    }
    if (route->n_accepts) {
        const char *types [8] = { NULL };
        for (size_t i = 0; i < route->n_accepts && i < 7; i++)
            types [i] = route->accepts [i];
        if (!json_in_media_type_ok (http_header (request, "Content-Type"), types)) {
            char detail [96];
            snprintf (detail, sizeof detail, "send the body as %s", route->accepts [0]);
            http_problem (request, 415, detail, NULL, NULL);
            return;
        }
    }
    request->timeout_ms = (int) route->timeout_ms;
    Kaiin__HttpRequest http = KAIIN__HTTP_REQUEST__INIT;
    if (route->if_match) {
        if (http_if_match (request, &http.if_version) == -1)
            return;
        http.has_if_version = http.if_version != 0;
    }
    char name [160];
    snprintf (name, sizeof name, "%s %s", route->verb, route->path);
    http.route = name;
    http.body.data = (uint8_t *) request->body;
    http.body.len = request->body_size;
    if (route->streamed) {
        request->send_slice = s_call;
        http.upload = request->upload;
        http.more = !request->body_ended;
    }
    if (route->paged) {
        request->send_page = s_call;
        http.page = request->page;
    }
    Kaiin__HttpParam path [4 + 4];
    for (size_t i = 0; i < route->n_headers && i < 4; i++) {
        const char *field = strchr (route->headers [i], '=');
        char header [64];
        snprintf (header, sizeof header, "%.*s", field? (int) (field - route->headers [i]): 0,
                  route->headers [i]);
        const char *value = field? http_header (request, header): NULL;
        if (!value)
            continue;
        Kaiin__HttpParam *param = &path [4 + i];
        kaiin__http_param__init (param);
        param->name = (char *) field + 1;
        param->value = (char *) value;
        http.params = realloc (http.params, (http.n_params + 1) * sizeof *http.params);
        assert (http.params);
        http.params [http.n_params++] = param;
    }
    for (int i = 0; i < request->api_param_count; i++) {
        kaiin__http_param__init (&path [i]);
        path [i].name = request->api_params [i][0];
        path [i].value = request->api_params [i][1];
        http.params = realloc (http.params, (http.n_params + 1) * sizeof *http.params);
        assert (http.params);
        http.params [http.n_params++] = &path [i];
    }
    Kaiin__HttpParam locked_param = KAIIN__HTTP_PARAM__INIT;
    if (*route->signs_in) {
        bool locked;
        if (s_login_begin (request, route->signs_in, &locked) == -1) {
            free (http.params);
            return;
        }
        if (locked) {
            locked_param.name = "locked";
            locked_param.value = "true";
            http.params = realloc (http.params, (http.n_params + 1) * sizeof *http.params);
            assert (http.params);
            http.params [http.n_params++] = &locked_param;
        }
    }
    size_t from_query = http.n_params;
    MHD_get_connection_values (request->connection, MHD_GET_ARGUMENT_KIND, s_query, &http);
    char service [32];
    snprintf (service, sizeof service, "%.*s", (int) strcspn (route->method, "."), route->method);
    http_call_route (request, service, route->method, &http, s_on_reply);
    for (size_t i = from_query; i < http.n_params; i++)
        free (http.params [i]);
    free (http.params);
}

void
api_routes_serve (http_request_t *request)
{
    const Kaiin__Route *route = request->api;
    if (route->open) {
        s_call (request);
        return;
    }
    if (strcmp (request->caller.kind, "member") == 0) {
        /* A member's session: only routes open to members, and only for its own member. */
        const char *member_id = MHD_lookup_connection_value (request->connection, MHD_GET_ARGUMENT_KIND,
                                                             "member_id");
        bool allowed = route->member == KAIIN__MEMBER_RULE__MEMBER_ONLY
                    || route->member == KAIIN__MEMBER_RULE__MEMBER_OWN_OBJECT
                    || (route->member == KAIIN__MEMBER_RULE__MEMBER_OWN_ID && request->api_param_count
                        && strcmp (request->api_params [0][1], request->caller.id) == 0)
                    || (route->member == KAIIN__MEMBER_RULE__MEMBER_OWN_QUERY && member_id
                        && strcmp (member_id, request->caller.id) == 0);
        if (allowed)
            s_call (request);
        else
            http_problem (request, 403, "a member's session may only use its own member's routes",
                          NULL, NULL);
        return;
    }
    if (route->member == KAIIN__MEMBER_RULE__MEMBER_ONLY
    ||  (*route->permission && !s_role_may (request->caller.role, route->permission))) {
        char detail [128];
        snprintf (detail, sizeof detail, "the role '%s' may not do this", request->caller.role);
        http_problem (request, 403, detail, NULL, NULL);
        return;
    }
    s_call (request);
}

const void *
api_routes_openapi (api_routes_openapi_fn *fn, void *arg)
{
    const s_table_t *table = s_current ();      /* kept until api_routes_destroy */
    for (size_t i = 0; table && fn && i < table->count; i++)
        fn (arg, table->apis [i]->service, table->apis [i]->openapi_paths,
            table->apis [i]->openapi_schemas);
    return table;
}
