/* svc.c - a service's runtime: configuration, migrations, worker threads each with its own
   PostgreSQL connection, the method table, replies with field-level errors */
#include "svc.h"
#include "clock.h"
#include "clock.pb-c.h"
#include "config.h"
#include "idempotency.h"
#include "log.h"
#include "mdp_client.h"
#include "mdp_worker.h"
#include "outbox.h"
#include <assert.h>
#include <ctype.h>
#include <stdbool.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define MAX_TICK_THREADS 16
#define MAX_CONSUMERS 16
#define MAX_BATCH_THREADS 16
#define CONSUMER_BATCH 500
#define CONSUMER_WAIT_MS 1000

static volatile sig_atomic_t s_stop;
static mdp_worker_t *s_workers [MAX_WORKERS];

/* The running service (set once by svc_main, before any thread starts). */
static const svc_def_t *s_def;

/* The request this thread is serving, if any: svc_call carries its id and now. */
static _Thread_local const Kaiin__Request *s_current;

/* Each thread's own broker client for svc_call, freed when the thread ends. */
static pthread_key_t s_client_key;
static pthread_once_t s_client_once = PTHREAD_ONCE_INIT;

/* The runtime's own tables in every service's schema, applied after the outbox's. */
static const pg_migration_t s_consumer_migrations [] = {
    { "000_consumer_positions",
      "create table consumer_positions ("
      "  source text primary key,"
      "  seq bigint not null default 0);" },
    { NULL, NULL }
};

typedef struct {
    const svc_def_t *def;
    const char *broker;
    const char *pg_url;
    char instance [96];
    int index;                        /* a worker's row in s_workers, or -1 */
    char service [48];                /* what a worker registers as: the service, or one method */
    int credit;                       /* requests a worker thread may hold at once */
    const uint8_t *announce;          /* what its READY tells the gateway (svc_http) */
    size_t announce_size;
} svc_thread_t;

bool
svc_masked (char *const *mask, size_t count, const char *field)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp (mask [i], field) == 0)
            return true;
    return false;
}

int
svc_interrupted (void)
{
    return s_stop != 0;
}

static void
s_on_signal (int signum)
{
    (void) signum;
    s_stop = 1;
}

int
svc_fail (svc_reply_t *reply, Kaiin__Status status, const char *fmt, ...)
{
    reply->status = status;
    va_list args;
    va_start (args, fmt);
    vsnprintf (reply->message, sizeof reply->message, fmt, args);
    va_end (args);
    return -1;
}

void
svc_field_error (svc_reply_t *reply, const char *field, const char *fmt, ...)
{
    if (reply->status == KAIIN__STATUS__OK) {
        reply->status = KAIIN__STATUS__INVALID_ARGUMENT;
        snprintf (reply->message, sizeof reply->message, "the request has invalid fields");
    }
    if (reply->error_count == SVC_MAX_FIELD_ERRORS)
        return;
    snprintf (reply->errors [reply->error_count].field, sizeof reply->errors [0].field, "%s", field);
    va_list args;
    va_start (args, fmt);
    vsnprintf (reply->errors [reply->error_count].reason, sizeof reply->errors [0].reason, fmt, args);
    va_end (args);
    reply->error_count++;
}

int
svc_db_fail (svc_reply_t *reply, pg_t *db)
{
    if (pg_lost (db))
        return svc_fail (reply, KAIIN__STATUS__UNAVAILABLE, "the database is unavailable");
    return svc_fail (reply, KAIIN__STATUS__INTERNAL, "internal error (sqlstate %s)", pg_sqlstate (db));
}

int
svc_reply_with (svc_reply_t *reply, const ProtobufCMessage *message)
{
    reply->status = KAIIN__STATUS__OK;
    reply->payload_size = protobuf_c_message_get_packed_size (message);
    reply->payload = malloc (reply->payload_size + 1);
    assert (reply->payload);
    protobuf_c_message_pack (message, reply->payload);
    return 0;
}

ProtobufCMessage *
svc_unpack (svc_request_t *request, const ProtobufCMessageDescriptor *descriptor,
            svc_reply_t *reply)
{
    ProtobufCMessage *message = protobuf_c_message_unpack (descriptor, NULL,
        request->envelope->payload.len, request->envelope->payload.data);
    if (!message)
        svc_fail (reply, KAIIN__STATUS__INVALID_ARGUMENT, "cannot decode the '%s' payload",
                  descriptor->name);
    return message;
}

static int
s_events_since (svc_request_t *request, svc_reply_t *reply, const char *source)
{
    Kaiin__EventsSinceRequest *query = (Kaiin__EventsSinceRequest *)
        svc_unpack (request, &kaiin__events_since_request__descriptor, reply);
    if (!query)
        return -1;
    Kaiin__EventsSinceReply events = KAIIN__EVENTS_SINCE_REPLY__INIT;
    int rc = outbox_since (request->db, source, query, &events);
    protobuf_c_message_free_unpacked (&query->base, NULL);
    if (rc == 0)
        svc_reply_with (reply, &events.base);
    else
        svc_db_fail (reply, request->db);
    outbox_reply_clear (&events);
    return rc;
}

/* Packs reply as a Kaiin.Reply into *out (the caller frees). Returns its size. */
static size_t
s_pack_reply (const svc_reply_t *reply, uint8_t **out)
{
    Kaiin__Reply packed_reply = KAIIN__REPLY__INIT;
    packed_reply.status = reply->status;
    packed_reply.message = (char *) reply->message;
    Kaiin__FieldError errors [SVC_MAX_FIELD_ERRORS], *error_list [SVC_MAX_FIELD_ERRORS];
    for (size_t i = 0; i < reply->error_count; i++) {
        kaiin__field_error__init (&errors [i]);
        errors [i].field = (char *) reply->errors [i].field;
        errors [i].reason = (char *) reply->errors [i].reason;
        error_list [i] = &errors [i];
    }
    packed_reply.n_errors = reply->error_count;
    packed_reply.errors = error_list;
    packed_reply.payload.data = reply->payload;
    packed_reply.payload.len = reply->payload_size;
    size_t packed_size = kaiin__reply__get_packed_size (&packed_reply);
    *out = malloc (packed_size + 1);
    assert (*out);
    kaiin__reply__pack (&packed_reply, *out);
    return packed_size;
}

/* A stored reply, marked as replayed. Returns its size; *out is NULL when it cannot be read. */
static size_t
s_replay (const uint8_t *stored, size_t size, uint8_t **out)
{
    *out = NULL;
    Kaiin__Reply *reply = kaiin__reply__unpack (NULL, size, stored);
    if (!reply)
        return 0;
    reply->replayed = true;
    size_t packed_size = kaiin__reply__get_packed_size (reply);
    *out = malloc (packed_size + 1);
    assert (*out);
    kaiin__reply__pack (reply, *out);
    kaiin__reply__free_unpacked (reply, NULL);
    return packed_size;
}

/* An idempotent method called with a key: in one transaction, the key's advisory lock, the
   lookup, the handler and (after an OK reply) the kept reply. Returns the packed reply's
   size with *out set, or 0 with *out NULL when reply (an error) is to be packed instead. */
static size_t
s_serve_idempotent (const svc_method_t *entry, svc_request_t *request, svc_reply_t *reply,
                    uint8_t **out)
{
    const Kaiin__Request *envelope = request->envelope;
    pg_t *db = request->db;
    int64_t now_ms = envelope->now_ms? envelope->now_ms: clock_now_ms ();
    char hash [65];
    idempotency_hash (envelope->method, envelope->payload.data, envelope->payload.len, hash);
    *out = NULL;
    if (pg_begin (db) == -1) {
        svc_db_fail (reply, db);
        return 0;
    }
    uint8_t *stored;
    size_t stored_size, size = 0;
    idempotency_state_t state = idempotency_check (db, envelope->caller_id,
        envelope->idempotency_key, envelope->method, hash, now_ms, &stored, &stored_size);
    switch (state) {
        case IDEMPOTENCY_ERROR:
            svc_db_fail (reply, db);
            break;
        case IDEMPOTENCY_BUSY:
            svc_fail (reply, KAIIN__STATUS__ABORTED, "a request with this Idempotency-Key is in progress");
            svc_field_error (reply, "Idempotency-Key", "a request with this key is still in progress; retry later");
            break;
        case IDEMPOTENCY_MISMATCH:
            svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                      "this Idempotency-Key was used with a different request");
            svc_field_error (reply, "Idempotency-Key", "was already used with a different request");
            break;
        case IDEMPOTENCY_REPLAY:
            size = s_replay (stored, stored_size, out);
            free (stored);
            if (!*out)
                svc_fail (reply, KAIIN__STATUS__INTERNAL, "the kept reply cannot be read");
            break;
        case IDEMPOTENCY_NEW:
            entry->handler (request, reply);
            if (reply->status != KAIIN__STATUS__OK)
                break;
            size = s_pack_reply (reply, out);
            if (idempotency_store (db, envelope->caller_id, envelope->idempotency_key,
                                   envelope->method, hash, *out, size, now_ms) == -1
            ||  pg_commit (db) == -1) {
                free (*out);
                *out = NULL;
                size = 0;
                free (reply->payload);
                reply->payload = NULL;
                reply->payload_size = 0;
                svc_db_fail (reply, db);
            }
            break;
    }
    pg_end_request (db);               /* rolls back whatever is still open */
    return size;
}

/* Applies one batch of source's events after the stored position (exactly once: the
   position row is locked, and events at or below it are skipped). Returns the number of
   events applied, 0 when there were none, -1 after an apply or database error (rolled
   back), -2 when the source did not answer (its status in *status). */
static int
s_consume (pg_t *db, const svc_consumer_t *consumer, int wait_ms, Kaiin__Status *status)
{
    const char *source = consumer->source;
    const char *params [] = { source };
    *status = KAIIN__STATUS__OK;
    if (pg_ensure (db) == -1)
        return -1;
    PGresult *result = pg_run (db, "consumer_position", 1, params);
    if (!result)
        return -1;
    int64_t after = PQntuples (result)? strtoll (PQgetvalue (result, 0, 0), NULL, 10): 0;
    PQclear (result);

    char method [64];
    snprintf (method, sizeof method, "%s.EventsSince", source);
    Kaiin__EventsSinceRequest query = KAIIN__EVENTS_SINCE_REQUEST__INIT;
    query.after_seq = after;
    query.max = CONSUMER_BATCH;
    query.wait_ms = wait_ms;
    Kaiin__EventsSinceReply *events = NULL;
    *status = svc_call (method, &query.base, &kaiin__events_since_reply__descriptor,
                        (ProtobufCMessage **) &events, wait_ms? wait_ms + 2000: 30000);
    if (*status != KAIIN__STATUS__OK)
        return -2;
    int applied = 0;
    if (events->n_events == 0)
        goto done;
    if (pg_begin (db) == -1)
        goto fail;
    if (!(result = pg_run (db, "consumer_ensure", 1, params)))
        goto rollback;
    PQclear (result);
    if (!(result = pg_run (db, "consumer_lock", 1, params)))
        goto rollback;
    int64_t position = strtoll (PQgetvalue (result, 0, 0), NULL, 10);
    PQclear (result);
    int64_t now_ms = s_current && s_current->now_ms? s_current->now_ms: clock_now_ms ();
    for (size_t i = 0; i < events->n_events; i++) {
        const Kaiin__Event *event = events->events [i];
        if (event->seq <= position)
            continue;                   /* another process or thread applied it already */
        if (consumer->apply (db, event, now_ms) == -1) {
            log_warn ("applying event %lld ('%s') of '%s' failed; retrying later",
                      (long long) event->seq, event->type, source);
            goto rollback;
        }
        position = event->seq;
        applied++;
    }
    char seq [24];
    snprintf (seq, sizeof seq, "%lld", (long long) position);
    const char *store_params [] = { source, seq };
    if (!(result = pg_run (db, "consumer_store", 2, store_params)))
        goto rollback;
    PQclear (result);
    if (pg_commit (db) == -1)
        goto rollback;
done:
    protobuf_c_message_free_unpacked (&events->base, NULL);
    return applied;
rollback:
    pg_rollback (db);
fail:
    pg_end_request (db);
    protobuf_c_message_free_unpacked (&events->base, NULL);
    return -1;
}

static int
s_consumer_prepare (pg_t *db)
{
    if (pg_prepare (db, "consumer_position", "select seq from consumer_positions where source = $1") == -1
    ||  pg_prepare (db, "consumer_ensure",
            "insert into consumer_positions (source, seq) values ($1, 0) on conflict do nothing") == -1
    ||  pg_prepare (db, "consumer_lock",
            "select seq from consumer_positions where source = $1 for update") == -1
    ||  pg_prepare (db, "consumer_store",
            "update consumer_positions set seq = $2::bigint where source = $1") == -1)
        return -1;
    return 0;
}

/* Prepares every statement a service thread may run: the runtime's and the service's own
   (consumers and ticks write through the service's stores and the outbox too). */
static void
s_prepare_all (pg_t *db, const svc_def_t *def)
{
    if (outbox_prepare (db) == -1 || idempotency_prepare (db) == -1 || s_consumer_prepare (db) == -1
    ||  (def->prepare && def->prepare (db) == -1))
        log_error ("cannot prepare the statements of '%s'", def->name);
}

/* <name>.ClockSet (test mode only): moves the clock forward, runs the tick until nothing is
   due, then drains every consumer until it is caught up. */
static int
s_clock_set (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__ClockSetRequest *set = (Kaiin__ClockSetRequest *)
        svc_unpack (request, &kaiin__clock_set_request__descriptor, reply);
    if (!set)
        return -1;
    clock_set_ms (set->now_ms);
    protobuf_c_message_free_unpacked (&set->base, NULL);
    int64_t work = 0;
    int rc;
    while (s_def->tick && !s_stop && (rc = s_def->tick (request->db, clock_now_ms ())) != 0) {
        pg_end_request (request->db);
        if (rc < 0)
            return svc_db_fail (reply, request->db);
        work += rc;
    }
    for (const svc_consumer_t *consumer = s_def->consumers; consumer && consumer->source; consumer++) {
        Kaiin__Status status;
        while (!s_stop && (rc = s_consume (request->db, consumer, 0, &status)) != 0) {
            if (rc == -2 && status == KAIIN__STATUS__UNAVAILABLE) {
                log_warn ("'%s' is not available: its events are applied when it is back",
                          consumer->source);
                break;
            }
            if (rc == -2)
                return svc_fail (reply, status, "'%s' did not answer", consumer->source);
            if (rc == -1)
                return svc_fail (reply, KAIIN__STATUS__INTERNAL,
                                 "cannot apply the events of '%s'", consumer->source);
            work += rc;
        }
    }
    Kaiin__ClockSetReply answer = KAIIN__CLOCK_SET_REPLY__INIT;
    answer.now_ms = clock_now_ms ();
    answer.work_done = work > INT32_MAX? INT32_MAX: (int32_t) work;
    return svc_reply_with (reply, &answer.base);
}

/* One request a worker thread has in hand, from its arrival to its reply. */
typedef struct {
    void *body;
    size_t size;
    mdp_address_t from;
    Kaiin__Request *envelope;         /* NULL when it cannot be read */
    const svc_method_t *entry;
    const svc_route_t *route;         /* a request that came over HTTP: its route */
    enum { JOB_ANSWERED, JOB_METHOD, JOB_EVENTS, JOB_CLOCK } kind;
    bool done;
    svc_reply_t reply;
    uint8_t *kept;                    /* an idempotent method's packed reply, sent as it is */
    size_t kept_size;
} s_job_t;

/* Reads a request that came over HTTP into the method's request (the envelope's payload).
   Returns 0, or -1 with the job's reply set. */
static int
s_http_read (const svc_def_t *def, const svc_method_t *entry, s_job_t *job)
{
    const svc_route_t *route = svc_http_route (def->http, job->envelope);
    if (!route || strcmp (route->method, entry->method) != 0)
        return svc_fail (&job->reply, KAIIN__STATUS__UNIMPLEMENTED, "no route '%s' to '%s'",
                         job->envelope->http->route, job->envelope->method);
    pb_json_errors_t errors;
    if (svc_http_read (def->http, route, job->envelope, &errors) == -1) {
        for (size_t i = 0; i < errors.count; i++)
            svc_field_error (&job->reply, errors.list [i].field, "%s", errors.list [i].reason);
        return svc_fail (&job->reply, KAIIN__STATUS__INVALID_ARGUMENT, "the request has invalid fields");
    }
    job->route = route;
    return 0;
}

/* A packed reply to an HTTP request as JSON: its payload written by route (svc_http_write)
   into the reply's json and etag. Returns the new packed reply's size with *packed replaced. */
static size_t
s_http_write (const svc_def_t *def, const svc_route_t *route, uint8_t **packed, size_t size)
{
    Kaiin__Reply *reply = kaiin__reply__unpack (NULL, size, *packed);
    if (!reply || reply->status != KAIIN__STATUS__OK) {
        if (reply)
            kaiin__reply__free_unpacked (reply, NULL);
        return size;
    }
    char etag [32];
    size_t json_size = 0;
    char *json = svc_http_write (def->http, route, reply->payload.data, reply->payload.len, &json_size, etag);
    Kaiin__Reply written = *reply;
    if (json) {
        written.json.data = (uint8_t *) json;
        written.json.len = json_size;
        written.etag = etag;
    }
    else {
        written.status = KAIIN__STATUS__INTERNAL;
        written.message = "the reply cannot be written as JSON";
    }
    written.payload.data = NULL;
    written.payload.len = 0;
    free (*packed);
    size = kaiin__reply__get_packed_size (&written);
    *packed = malloc (size + 1);
    assert (*packed);
    kaiin__reply__pack (&written, *packed);
    free (json);
    kaiin__reply__free_unpacked (reply, NULL);
    return size;
}

/* Reads a request's envelope and makes the checks due before any work: what is left to do
   is the job's kind (JOB_ANSWERED: its reply says why nothing is). */
static void
s_job_open (const svc_thread_t *config, pg_t *db, s_job_t *job)
{
    job->reply = (svc_reply_t) { .status = KAIIN__STATUS__OK };
    job->kind = JOB_ANSWERED;
    Kaiin__Request *envelope = job->envelope = kaiin__request__unpack (NULL, job->size, job->body);
    if (!envelope) {
        svc_fail (&job->reply, KAIIN__STATUS__INVALID_ARGUMENT, "cannot decode the envelope");
        return;
    }
    /* A test clock moves with every request, so a restarted process catches up. */
    if (envelope->now_ms && clock_test_mode ())
        clock_set_ms (envelope->now_ms);
    const char *name = config->def->name;
    size_t name_length = strlen (name);
    const char *method = envelope->method;
    if (strncmp (method, name, name_length) == 0 && method [name_length] == '.')
        method += name_length + 1;
    else
        method = "";
    const svc_method_t *entry = config->def->methods;
    while (entry->method && strcmp (entry->method, method) != 0)
        entry++;
    bool events = strcmp (method, "EventsSince") == 0;
    bool clock = clock_test_mode () && strcmp (method, "ClockSet") == 0;
    if (envelope->deadline_ms && envelope->deadline_ms < clock_now_ms ())
        svc_fail (&job->reply, KAIIN__STATUS__DEADLINE_EXCEEDED, "the deadline passed before the work began");
    else
    if (!entry->method && !events && !clock)
        svc_fail (&job->reply, KAIIN__STATUS__UNIMPLEMENTED, "no method '%s'", envelope->method);
    else
    if (envelope->http && s_http_read (config->def, entry, job) == -1)
        ;                               /* answered: the route or its fields */
    else
    if (pg_ensure (db) == -1)
        svc_fail (&job->reply, KAIIN__STATUS__UNAVAILABLE, "the database is unavailable");
    else {
        job->entry = entry;
        job->kind = events? JOB_EVENTS: clock? JOB_CLOCK: JOB_METHOD;
    }
}

/* Serves the jobs of one batch handler together: jobs [first] and every later one of its
   method not done yet. */
static void
s_jobs_batch (pg_t *db, s_job_t *jobs, int first, int count)
{
    const svc_method_t *entry = jobs [first].entry;
    svc_request_t requests [MDP_MAX_CREDIT];
    svc_request_t *request_list [MDP_MAX_CREDIT];
    svc_reply_t *reply_list [MDP_MAX_CREDIT];
    int together = 0;
    for (int i = first; i < count; i++)
        if (!jobs [i].done && jobs [i].kind == JOB_METHOD && jobs [i].entry == entry) {
            requests [together] = (svc_request_t) { .envelope = jobs [i].envelope, .db = db };
            request_list [together] = &requests [together];
            reply_list [together++] = &jobs [i].reply;
            jobs [i].done = true;
        }
    entry->batch (request_list, reply_list, together);
}

/* Runs jobs [first], and with it every later job of the same method when the method has a
   batch handler (an idempotency key keeps a request to itself). */
static void
s_job_run (const svc_thread_t *config, pg_t *db, s_job_t *jobs, int first, int count)
{
    s_job_t *job = &jobs [first];
    svc_request_t request = { .envelope = job->envelope, .db = db };
    bool keyed = job->kind == JOB_METHOD && job->entry->idempotent && *job->envelope->idempotency_key;
    log_set_request_id (job->envelope->request_id);
    s_current = job->envelope;
    if (job->kind == JOB_EVENTS)
        s_events_since (&request, &job->reply, config->def->name);
    else
    if (job->kind == JOB_CLOCK)
        s_clock_set (&request, &job->reply);
    else
    if (keyed)
        job->kept_size = s_serve_idempotent (job->entry, &request, &job->reply, &job->kept);
    else
    if (job->entry->batch)
        s_jobs_batch (db, jobs, first, count);
    else
        job->entry->handler (&request, &job->reply);
    job->done = true;
    s_current = NULL;
    /* A transaction left open by an error must not leak into the next request. */
    pg_end_request (db);
    log_set_request_id (NULL);
}

/* The job's packed reply (caller frees) in *out; frees the rest of the job. */
static size_t
s_job_close (const svc_def_t *def, s_job_t *job, uint8_t **out)
{
    size_t size = job->kept_size;
    *out = job->kept;
    if (!*out)
        size = s_pack_reply (&job->reply, out);
    if (job->route)
        size = s_http_write (def, job->route, out, size);
    free (job->reply.payload);
    if (job->envelope)
        kaiin__request__free_unpacked (job->envelope, NULL);
    free (job->body);
    return size;
}

/* A worker thread: takes a request, and with it any others already sent to it (up to its
   credit: a method's own workers have some), so that a method with a batch handler serves
   them together; each is answered as soon as it is done. */
static void *
s_worker_thread (void *arg)
{
    const svc_thread_t *config = arg;
    pg_t *db = pg_new (config->pg_url, config->def->name);
    s_prepare_all (db, config->def);
    mdp_worker_t *worker = mdp_worker_new (config->broker, config->service, config->instance,
                                           config->credit, config->announce, config->announce_size,
                                           &s_stop);
    if (config->index >= 0)
        __atomic_store_n (&s_workers [config->index], worker, __ATOMIC_RELEASE);
    s_job_t jobs [MDP_MAX_CREDIT];
    while (!s_stop) {
        memset (jobs, 0, sizeof jobs);
        if (!(jobs [0].body = mdp_worker_recv (worker, &jobs [0].size, &jobs [0].from)))
            break;
        int count = 1;
        while (count < config->credit
           &&  (jobs [count].body = mdp_worker_recv_ready (worker, &jobs [count].size, &jobs [count].from)))
            count++;
        for (int i = 0; i < count; i++) {
            s_job_open (config, db, &jobs [i]);
            jobs [i].done = jobs [i].kind == JOB_ANSWERED;
        }
        for (int i = 0; i < count; i++) {
            if (!jobs [i].done)
                s_job_run (config, db, jobs, i, count);
            for (int j = 0; j < count; j++)
                if (jobs [j].done && jobs [j].body) {         /* done, not answered yet */
                    uint8_t *reply;
                    size_t reply_size = s_job_close (config->def, &jobs [j], &reply);
                    jobs [j].body = NULL;
                    mdp_worker_reply (worker, &jobs [j].from, reply, reply_size);
                    free (reply);
                }
        }
    }
    if (config->index >= 0)
        __atomic_store_n (&s_workers [config->index], NULL, __ATOMIC_RELEASE);
    mdp_worker_destroy (&worker);
    pg_destroy (&db);
    return NULL;
}

static void
s_client_free (void *client)
{
    mdp_client_destroy ((mdp_client_t **) &client);
}

static void
s_client_key_new (void)
{
    pthread_key_create (&s_client_key, s_client_free);
}

/* This thread's broker client, made on first use. */
static mdp_client_t *
s_client (void)
{
    pthread_once (&s_client_once, s_client_key_new);
    mdp_client_t *client = pthread_getspecific (s_client_key);
    if (!client) {
        client = mdp_client_new (config_str ("KAIIN_BROKER_ENDPOINT", "tcp://127.0.0.1:5555"));
        pthread_setspecific (s_client_key, client);
    }
    return client;
}

Kaiin__Status
svc_call (const char *method, const ProtobufCMessage *in,
          const ProtobufCMessageDescriptor *out_descriptor, ProtobufCMessage **out,
          int timeout_ms)
{
    *out = NULL;
    char service [32];
    size_t service_length = strcspn (method, ".");
    if (service_length == 0 || service_length >= sizeof service || !method [service_length]) {
        log_error ("svc_call: '%s' is not a '<service>.<Method>'", method);
        return KAIIN__STATUS__INVALID_ARGUMENT;
    }
    memcpy (service, method, service_length);
    service [service_length] = 0;

    char caller [96], request_id [40];
    snprintf (caller, sizeof caller, "service:%s", s_def? s_def->name: "unknown");
    Kaiin__Request envelope = KAIIN__REQUEST__INIT;
    envelope.method = (char *) method;
    envelope.caller_id = caller;
    envelope.caller_role = "service";
    if (s_current && *s_current->request_id) {
        envelope.request_id = s_current->request_id;
        envelope.now_ms = s_current->now_ms? s_current->now_ms: clock_now_ms ();
    }
    else {
        unsigned char random [16];
        if (getrandom (random, sizeof random, 0) != (ssize_t) sizeof random)
            for (size_t i = 0; i < sizeof random; i++)
                random [i] = (unsigned char) (clock_mono_us () >> (i % 8));
        for (size_t i = 0; i < sizeof random; i++)
            snprintf (request_id + 2 * i, 3, "%02x", random [i]);
        envelope.request_id = request_id;
        envelope.now_ms = s_current && s_current->now_ms? s_current->now_ms: clock_now_ms ();
    }
    /* No deadline_ms: the broker enforces timeout_ms, and another process's test clock may
       stand elsewhere for a moment. */
    size_t payload_size = protobuf_c_message_get_packed_size (in);
    envelope.payload.data = malloc (payload_size + 1);
    assert (envelope.payload.data);
    protobuf_c_message_pack (in, envelope.payload.data);
    envelope.payload.len = payload_size;
    size_t packed_size = kaiin__request__get_packed_size (&envelope);
    uint8_t *packed = malloc (packed_size + 1);
    assert (packed);
    kaiin__request__pack (&envelope, packed);
    free (envelope.payload.data);

    void *data;
    size_t size;
    mdp_status_t delivered = mdp_client_call (s_client (), service, packed, packed_size,
                                              timeout_ms, &data, &size);
    free (packed);
    if (delivered != MDP_OK)
        return delivered == MDP_TIMEOUT? KAIIN__STATUS__DEADLINE_EXCEEDED: KAIIN__STATUS__UNAVAILABLE;
    Kaiin__Reply *reply = kaiin__reply__unpack (NULL, size, data);
    free (data);
    if (!reply) {
        log_error ("'%s' sent a reply that cannot be read", method);
        return KAIIN__STATUS__INTERNAL;
    }
    Kaiin__Status status = reply->status;
    if (status == KAIIN__STATUS__OK) {
        *out = protobuf_c_message_unpack (out_descriptor, NULL, reply->payload.len, reply->payload.data);
        if (!*out) {
            log_error ("'%s' sent a '%s' that cannot be read", method, out_descriptor->name);
            status = KAIIN__STATUS__INTERNAL;
        }
    }
    else
        log_debug ("'%s' answered status %d: %s", method, (int) status, reply->message);
    kaiin__reply__free_unpacked (reply, NULL);
    return status;
}

/* Sleeps up to ms, waking early when the process is asked to stop. */
static void
s_nap (int ms)
{
    for (int slept = 0; slept < ms && !s_stop; slept += 50)
        usleep (50 * 1000);
}

/* A consumer's thread: reads its source's events and applies them, until asked to stop. */
static void *
s_consumer_thread (void *arg)
{
    const svc_thread_t *config = arg;
    const svc_consumer_t *consumer = &config->def->consumers [config->index];
    pg_t *db = pg_new (config->pg_url, config->def->name);
    s_prepare_all (db, config->def);
    int backoff_ms = 100;
    while (!s_stop) {
        Kaiin__Status status;
        int rc = s_consume (db, consumer, CONSUMER_WAIT_MS, &status);
        if (rc >= 0) {
            backoff_ms = 100;
            continue;
        }
        /* The source is away (at most a second between tries), or an event cannot be
           applied yet (longer, up to 5 s: the database or the data must change first). */
        int limit = rc == -2? 1000: 5000;
        s_nap (backoff_ms);
        backoff_ms = backoff_ms * 2 > limit? limit: backoff_ms * 2;
    }
    pg_destroy (&db);
    return NULL;
}

/* A tick thread: runs the service's scheduled work whenever some is due. */
static void *
s_tick_thread (void *arg)
{
    const svc_thread_t *config = arg;
    pg_t *db = pg_new (config->pg_url, config->def->name);
    s_prepare_all (db, config->def);
    while (!s_stop) {
        int rc = pg_ensure (db) == 0? config->def->tick (db, clock_now_ms ()): -1;
        pg_end_request (db);
        if (rc > 0)
            continue;                   /* more may be due: the batch in hand is finished */
        s_nap (1000);
    }
    pg_destroy (&db);
    return NULL;
}

/* "<SERVICE>_<suffix>", the name of one of the service's settings, in out. */
static const char *
s_setting_name (const char *service, const char *suffix, char *out, size_t size)
{
    int length = snprintf (out, size, "%s_%s", service, suffix);
    for (int i = 0; i < length && (size_t) i < size; i++)
        out [i] = (char) toupper ((unsigned char) out [i]);
    return out;
}

/* Reads <NAME>_<suffix> (or its _FILE twin); the caller frees. */
static char *
s_setting (const char *service, const char *suffix, const char *fallback)
{
    char name [96];
    return config_secret (s_setting_name (service, suffix, name, sizeof name), fallback);
}

/* The health file: touched every second while the process is connected to the broker and its
   database answers; "--healthcheck" (a container's HEALTHCHECK) checks that it is fresh. */
static void
s_health_path (const svc_def_t *def, char *path, size_t size)
{
    snprintf (path, size, "%s/kaiin-%s.health", config_str ("KAIIN_STATE_DIR", "/tmp"), def->name);
}

static int
s_healthcheck (const svc_def_t *def)
{
    char path [512];
    s_health_path (def, path, sizeof path);
    struct stat info;
    if (stat (path, &info) == -1 || time (NULL) - info.st_mtime > 5) {
        fprintf (stderr, "%s is not healthy: '%s' is missing or stale\n", def->name, path);
        return 1;
    }
    return 0;
}

static void
s_report_health (const char *path, const char *pg_url, int workers)
{
    bool connected = false;
    for (int i = 0; i < workers && !connected; i++) {
        mdp_worker_t *worker = __atomic_load_n (&s_workers [i], __ATOMIC_ACQUIRE);
        connected = worker && mdp_worker_connected (worker);
    }
    if (connected && PQping (pg_url) == PQPING_OK) {
        FILE *file = fopen (path, "w");
        if (file)
            fclose (file);
    }
    else
        unlink (path);
}

int
svc_main (const svc_def_t *def, int argc, char **argv)
{
    if (argc > 1 && strcmp (argv [1], "--healthcheck") == 0)
        return s_healthcheck (def);
    log_init (def->name);
    s_def = def;
    signal (SIGPIPE, SIG_IGN);
    struct sigaction action = { .sa_handler = s_on_signal };
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);

    char *pg_url = s_setting (def->name, "PG_URL", NULL);
    char *owner_url = s_setting (def->name, "PG_OWNER_URL", NULL);
    char default_dir [128];
    snprintf (default_dir, sizeof default_dir, "services/%s/migrations", def->name);
    char *migrations = s_setting (def->name, "MIGRATIONS", default_dir);
    char setting [80];
    int workers = (int) config_int (s_setting_name (def->name, "WORKERS", setting, sizeof setting),
                                    8, 1, MAX_WORKERS);
    /* A method with a batch handler has workers of its own, registered by the method's name:
       each holds up to batch_credit of its requests at once and serves them together. They
       see no other method, so no request waits behind a slow one of another kind. */
    int batch_workers = (int) config_int (s_setting_name (def->name, "BATCH_WORKERS", setting, sizeof setting),
                                          2, 0, MAX_WORKERS);
    int batch_credit = (int) config_int (s_setting_name (def->name, "BATCH_CREDIT", setting, sizeof setting),
                                         MDP_MAX_CREDIT, 1, MDP_MAX_CREDIT);
    svc_thread_t config = {
        .def = def,
        .broker = config_str ("KAIIN_BROKER_ENDPOINT", "tcp://127.0.0.1:5555"),
        .pg_url = pg_url,
        .credit = 1
    };
    snprintf (config.service, sizeof config.service, "%s", def->name);
    uint8_t *announce = def->http? svc_http_announcement (def->name, def->http, &config.announce_size): NULL;
    config.announce = announce;
    char host [64] = "localhost";
    gethostname (host, sizeof host - 1);
    snprintf (config.instance, sizeof config.instance, "%s:%d", host, (int) getpid ());

    /* The runtime's own tables come first: the outbox, consumer positions, idempotency keys. */
    pg_migration_t builtin [16];
    size_t builtin_count = 0;
    const pg_migration_t *const sets [] = { outbox_migrations, s_consumer_migrations,
                                            idempotency_migrations };
    for (size_t set = 0; set < sizeof sets / sizeof sets [0]; set++)
        for (const pg_migration_t *migration = sets [set]; migration->version; migration++) {
            assert (builtin_count + 1 < sizeof builtin / sizeof builtin [0]);
            builtin [builtin_count++] = *migration;
        }
    builtin [builtin_count] = (pg_migration_t) { NULL, NULL };

    /* PostgreSQL may still be starting (containers, reboots): retry for a while. */
    int rc = -1;
    for (int attempt = 0; attempt < 60 && !s_stop; attempt++) {
        if ((rc = pg_migrate (owner_url, def->name, builtin, migrations)) == 0)
            break;
        sleep (1);
    }
    free (owner_url);
    free (migrations);
    if (rc == -1) {
        free (pg_url);
        log_error ("cannot apply the migrations of '%s', giving up", def->name);
        return 1;
    }

    pthread_t threads [MAX_WORKERS];
    svc_thread_t thread_configs [MAX_WORKERS];
    for (int i = 0; i < workers; i++) {
        thread_configs [i] = config;
        thread_configs [i].index = i;
        pthread_create (&threads [i], NULL, s_worker_thread, &thread_configs [i]);
    }
    pthread_t batchers [MAX_BATCH_THREADS];
    svc_thread_t batcher_configs [MAX_BATCH_THREADS];
    int batcher_count = 0;
    for (const svc_method_t *entry = def->methods; entry->method; entry++)
        for (int i = 0; entry->batch && i < batch_workers && batcher_count < MAX_BATCH_THREADS; i++) {
            svc_thread_t *batcher = &batcher_configs [batcher_count];
            *batcher = config;
            batcher->index = -1;
            batcher->credit = batch_credit;
            batcher->announce = NULL;
            batcher->announce_size = 0;
            snprintf (batcher->service, sizeof batcher->service, "%s.%s", def->name, entry->method);
            pthread_create (&batchers [batcher_count++], NULL, s_worker_thread, batcher);
        }
    /* Background threads: one per consumer, and <NAME>_TICK_THREADS for the tick. */
    pthread_t background [MAX_CONSUMERS + MAX_TICK_THREADS];
    svc_thread_t background_configs [MAX_CONSUMERS + MAX_TICK_THREADS];
    int background_count = 0;
    for (int i = 0; def->consumers && def->consumers [i].source; i++) {
        assert (i < MAX_CONSUMERS);
        background_configs [background_count] = config;
        background_configs [background_count].index = i;
        pthread_create (&background [background_count], NULL, s_consumer_thread,
                        &background_configs [background_count]);
        background_count++;
    }
    if (def->tick) {
        int ticks = (int) config_int (s_setting_name (def->name, "TICK_THREADS", setting, sizeof setting),
                                      2, 1, MAX_TICK_THREADS);
        for (int i = 0; i < ticks; i++) {
            background_configs [background_count] = config;
            background_configs [background_count].index = i;
            pthread_create (&background [background_count], NULL, s_tick_thread,
                            &background_configs [background_count]);
            background_count++;
        }
    }
    log_info ("service '%s' serving with %d workers (and %d serving one method each) through '%s'",
              def->name, workers, batcher_count, config.broker);
    char health_path [512];
    s_health_path (def, health_path, sizeof health_path);
    while (!s_stop) {
        s_report_health (health_path, pg_url, workers);
        for (int i = 0; i < 10 && !s_stop; i++)
            usleep (100 * 1000);
    }
    unlink (health_path);
    for (int i = 0; i < workers; i++)
        pthread_join (threads [i], NULL);
    for (int i = 0; i < batcher_count; i++)
        pthread_join (batchers [i], NULL);
    for (int i = 0; i < background_count; i++)
        pthread_join (background [i], NULL);
    mdp_worker_shutdown ();
    free (pg_url);
    free (announce);
    log_info ("service '%s' stopped", def->name);
    return 0;
}
