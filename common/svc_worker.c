/* svc_worker.c - a service's worker threads: each takes requests from the broker and serves
   them as jobs (open, run, close): methods, batch handlers, idempotent methods, HTTP requests,
   EventsSince and ClockSet */
#include "svc_internal.h"
#include "clock.h"
#include "idempotency.h"
#include "log.h"
#include "mdp_worker.h"
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The workers that serve the whole service, by index, for svc_worker_connected. */
static mdp_worker_t *s_workers [SVC_MAX_WORKERS];

/* Packs reply as a Kaiin.Reply into *out (the caller frees). Returns its size. */
static size_t
s_pack_reply (const svc_reply_t *reply, uint8_t **out)
{
    Kaiin__Reply packed_reply = KAIIN__REPLY__INIT;
    packed_reply.status = reply->status;
    packed_reply.message = (char *) reply->message;
    packed_reply.code = (char *) (reply->code? reply->code: "");
    Kaiin__FieldError errors [SVC_MAX_FIELD_ERRORS], *error_list [SVC_MAX_FIELD_ERRORS];
    for (size_t i = 0; i < reply->error_count; i++) {
        kaiin__field_error__init (&errors [i]);
        errors [i].field = (char *) reply->errors [i].field;
        errors [i].reason = (char *) reply->errors [i].reason;
        errors [i].code = (char *) (reply->errors [i].code? reply->errors [i].code: "");
        error_list [i] = &errors [i];
    }
    packed_reply.n_errors = reply->error_count;
    packed_reply.errors = error_list;
    packed_reply.payload.data = reply->payload;
    packed_reply.payload.len = reply->payload_size;
    Kaiin__SessionStart session = KAIIN__SESSION_START__INIT;
    if (*reply->session.kind) {
        session.kind = (char *) reply->session.kind;
        session.id = (char *) reply->session.id;
        session.role = (char *) reply->session.role;
        packed_reply.session = &session;
    }
    Kaiin__SessionEnd ends [2], *end_list [2];
    for (size_t i = 0; i < reply->end_count; i++) {
        kaiin__session_end__init (&ends [i]);
        ends [i].kind = (char *) reply->ends [i].kind;
        ends [i].id = (char *) reply->ends [i].id;
        ends [i].keep_caller = reply->ends [i].keep_caller;
        end_list [i] = &ends [i];
    }
    packed_reply.n_ends = reply->end_count;
    packed_reply.ends = end_list;
    Kaiin__HttpParam headers [2], *header_list [2];
    for (size_t i = 0; i < reply->header_count; i++) {
        kaiin__http_param__init (&headers [i]);
        headers [i].name = (char *) reply->headers [i].name;
        headers [i].value = (char *) reply->headers [i].value;
        header_list [i] = &headers [i];
    }
    packed_reply.n_headers = reply->header_count;
    packed_reply.headers = header_list;
    packed_reply.http_status = reply->http_status;
    packed_reply.problem_type = (char *) (reply->problem_type? reply->problem_type: "");
    packed_reply.problem_title = (char *) (reply->problem_title? reply->problem_title: "");
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

/* One request a worker thread has in hand, from its arrival to its reply. */
typedef struct {
    void *body;
    size_t size;
    mdp_address_t from;
    Kaiin__Request *envelope;         /* NULL when it cannot be read */
    const svc_method_t *entry;
    const svc_route_t *route;         /* a request that came over HTTP: its route */
    enum { JOB_ANSWERED, JOB_METHOD, JOB_EVENTS, JOB_CLOCK, JOB_METRICS } kind;
    int slot;                         /* its counters' (svc_metrics_slot) */
    int64_t started_us;
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
            svc_field_error_coded (&job->reply, errors.list [i].field, errors.list [i].code,
                                   errors.list [i].reason);
        return svc_fail (&job->reply, KAIIN__STATUS__INVALID_ARGUMENT, "the request has invalid fields");
    }
    job->route = route;
    return 0;
}

/* A packed reply to an HTTP request as JSON: its payload written by route (svc_http_write)
   into the reply's json and etag. Returns the new packed reply's size with *packed replaced. */
static size_t
s_http_write (const svc_def_t *def, const svc_route_t *route, bool one, uint8_t **packed, size_t size)
{
    Kaiin__Reply *reply = kaiin__reply__unpack (NULL, size, *packed);
    if (!reply || reply->status != KAIIN__STATUS__OK) {
        if (reply)
            kaiin__reply__free_unpacked (reply, NULL);
        return size;
    }
    char etag [32];
    size_t json_size = 0;
    const char *type = NULL;
    char *json = svc_http_write_text (route, reply->payload.data, reply->payload.len, &json_size, &type);
    if (json)
        *etag = 0;
    else
        json = svc_http_write (def->http, route, one, reply->payload.data, reply->payload.len, &json_size, etag);
    char *next_page = json && route->paged
                    ? svc_http_next_page (route, reply->payload.data, reply->payload.len): NULL;
    Kaiin__Reply written = *reply;
    if (next_page)
        written.next_page = next_page;
    if (json) {
        written.json.data = (uint8_t *) json;
        written.json.len = json_size;
        written.etag = etag;
        written.content_type = (char *) (type? type: route->content_type? route->content_type: "");
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
    free (next_page);
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
    job->slot = -1;
    job->started_us = clock_mono_us ();
    Kaiin__Request *envelope = job->envelope = kaiin__request__unpack (NULL, job->size, job->body);
    if (!envelope) {
        svc_fail (&job->reply, KAIIN__STATUS__INVALID_ARGUMENT, "cannot decode the envelope");
        return;
    }
    job->reply.japanese = strcmp (envelope->language, "ja") == 0;
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
    bool metrics = strcmp (method, "Prometheus") == 0;
    job->slot = svc_metrics_slot (entry, method);
    if (envelope->deadline_ms && envelope->deadline_ms < clock_now_ms ())
        svc_fail (&job->reply, KAIIN__STATUS__DEADLINE_EXCEEDED, "the deadline passed before the work began");
    else
    if (!entry->method && !events && !clock && !metrics)
        svc_fail (&job->reply, KAIIN__STATUS__UNIMPLEMENTED, "no method '%s'", envelope->method);
    else
    if (envelope->http && s_http_read (config->def, entry, job) == -1)
        ;                               /* answered: the route or its fields */
    else
    if (pg_ensure (db) == -1)
        svc_fail (&job->reply, KAIIN__STATUS__UNAVAILABLE, "the database is unavailable");
    else {
        job->entry = entry;
        job->kind = events? JOB_EVENTS: clock? JOB_CLOCK: metrics? JOB_METRICS: JOB_METHOD;
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

/* Forgets what a reply said, to answer again (in the caller's language still). */
static void
s_reply_reset (svc_reply_t *reply)
{
    bool japanese = reply->japanese;
    free (reply->payload);
    *reply = (svc_reply_t) { .status = KAIIN__STATUS__OK, .japanese = japanese };
}

/* Serves the group's jobs with the method's group handler, in a savepoint: served [i] for
   those it answered; none when it failed (its writes rolled back, its replies forgotten). */
static void
s_group_serve (pg_t *db, const svc_method_t *entry, s_job_t *const *group, int together, bool *served)
{
    svc_request_t requests [MDP_MAX_CREDIT];
    svc_request_t *request_list [MDP_MAX_CREDIT];
    svc_reply_t *reply_list [MDP_MAX_CREDIT];
    for (int i = 0; i < together; i++) {
        requests [i] = (svc_request_t) { .envelope = group [i]->envelope, .db = db };
        request_list [i] = &requests [i];
        reply_list [i] = &group [i]->reply;
    }
    if (pg_part_begin (db) == -1)
        return;
    bool done = pg_part_end (db, entry->group (request_list, reply_list, served, together) == 0);
    for (int i = 0; !done && i < together; i++)
        if (served [i]) {
            served [i] = false;
            s_reply_reset (&group [i]->reply);
        }
}

/* Runs the jobs of a group-commit method together: jobs [first] and every later one of its
   method not done yet, without an idempotency key. One transaction: the method's group
   handler first, when it has one, serves what it can at once; the rest a savepoint each (a
   job that fails is rolled back alone, with its own reply); one commit; when that fails none is
   committed and every one is answered UNAVAILABLE. A job chosen as a deadlock's victim (two
   groups locking the same rows in another order) or failing serialisation is run again alone
   after the commit, when the locks its group held are released. */
static void
s_jobs_group (pg_t *db, s_job_t *jobs, int first, int count)
{
    const svc_method_t *entry = jobs [first].entry;
    s_job_t *group [MDP_MAX_CREDIT];
    bool again [MDP_MAX_CREDIT] = { false };
    int together = 0;
    for (int i = first; i < count; i++)
        if (!jobs [i].done && jobs [i].kind == JOB_METHOD && jobs [i].entry == entry
        &&  !(entry->idempotent && *jobs [i].envelope->idempotency_key))
            group [together++] = &jobs [i];
    bool open = pg_begin (db) == 0, served [MDP_MAX_CREDIT] = { false };
    if (open && entry->group && together > 1)
        s_group_serve (db, entry, group, together, served);
    for (int i = 0; i < together; i++) {
        s_job_t *job = group [i];
        svc_request_t request = { .envelope = job->envelope, .db = db };
        if (served [i]) {
            job->done = true;
            continue;
        }
        log_set_request_id (job->envelope->request_id);
        svc_call_set_current (job->envelope);
        if (!open || pg_part_begin (db) == -1)
            svc_fail (&job->reply, KAIIN__STATUS__UNAVAILABLE, "the database is unavailable");
        else {
            entry->handler (&request, &job->reply);
            bool ok = job->reply.status == KAIIN__STATUS__OK;
            if (!pg_part_end (db, ok) && ok) {
                s_reply_reset (&job->reply);            /* a write it deferred failed */
                svc_db_fail (&job->reply, db);
            }
            again [i] = job->reply.status != KAIIN__STATUS__OK && strncmp (pg_sqlstate (db), "40", 2) == 0;
        }
        job->done = true;
    }
    if (open && pg_commit (db) == -1) {
        pg_rollback (db);
        for (int i = 0; i < together; i++)
            if (group [i]->reply.status == KAIIN__STATUS__OK) {
                s_reply_reset (&group [i]->reply);
                svc_fail (&group [i]->reply, KAIIN__STATUS__UNAVAILABLE, "the change was not committed");
            }
    }
    for (int i = 0; i < together; i++)
        if (again [i]) {
            s_job_t *job = group [i];
            svc_request_t request = { .envelope = job->envelope, .db = db };
            log_set_request_id (job->envelope->request_id);
            svc_call_set_current (job->envelope);
            log_info ("a change of the group was a deadlock's victim: it runs again alone");
            s_reply_reset (&job->reply);
            pg_end_request (db);
            entry->handler (&request, &job->reply);
        }
}

/* Runs jobs [first], and with it every later job of the same method when the method has a
   batch handler or commits in groups (an idempotency key keeps a request to itself). */
static void
s_job_run (const svc_thread_t *config, pg_t *db, s_job_t *jobs, int first, int count)
{
    s_job_t *job = &jobs [first];
    svc_request_t request = { .envelope = job->envelope, .db = db };
    bool keyed = job->kind == JOB_METHOD && job->entry->idempotent && *job->envelope->idempotency_key;
    log_set_request_id (job->envelope->request_id);
    svc_call_set_current (job->envelope);
    if (job->kind == JOB_EVENTS)
        svc_events_since (&request, &job->reply, config->def->name);
    else
    if (job->kind == JOB_CLOCK)
        svc_tick_clock_set (config->def, &request, &job->reply);
    else
    if (job->kind == JOB_METRICS)
        svc_metrics_reply (db, &job->reply);
    else
    if (keyed)
        job->kept_size = s_serve_idempotent (job->entry, &request, &job->reply, &job->kept);
    else
    if (job->entry->batch)
        s_jobs_batch (db, jobs, first, count);
    else
    if (job->entry->group_commit)
        s_jobs_group (db, jobs, first, count);
    else
        job->entry->handler (&request, &job->reply);
    job->done = true;
    svc_call_set_current (NULL);
    /* A transaction left open by an error must not leak into the next request. */
    pg_end_request (db);
    log_set_request_id (NULL);
}

/* The job's packed reply (caller frees) in *out; frees the rest of the job. */
static size_t
s_job_close (const svc_def_t *def, s_job_t *job, uint8_t **out)
{
    svc_metrics_count (job->slot, job->reply.status, clock_mono_us () - job->started_us);
    size_t size = job->kept_size;
    *out = job->kept;
    if (!*out)
        size = s_pack_reply (&job->reply, out);
    if (job->route)
        size = s_http_write (def, job->route, svc_http_gave_one (job->route, job->envelope), out, size);
    free (job->reply.payload);
    if (job->envelope)
        kaiin__request__free_unpacked (job->envelope, NULL);
    free (job->body);
    return size;
}

/* A worker thread: takes a request, and with it any others already sent to it (up to its
   credit: a method's own workers have some), so that a method with a batch handler serves
   them together; each is answered as soon as it is done. */
void *
svc_worker_thread (void *arg)
{
    const svc_thread_t *config = arg;
    /* Connected and prepared (one round trip) before it registers: a registered worker that
       does not heartbeat for 600 ms is dropped by the broker. Failing, it is tried again at
       each request. */
    pg_t *db = pg_new (config->pg_url, config->def->name);
    svc_prepare_all (db, config->def);
    pg_ensure (db);
    mdp_worker_t *worker = mdp_worker_new (config->broker, config->service, config->instance,
                                           config->credit, config->announce, config->announce_size,
                                           &svc_stop);
    if (config->index >= 0)
        __atomic_store_n (&s_workers [config->index], worker, __ATOMIC_RELEASE);
    s_job_t jobs [MDP_MAX_CREDIT];
    while (!svc_stop) {
        memset (jobs, 0, sizeof jobs);
        if (!(jobs [0].body = mdp_worker_recv (worker, &jobs [0].size, &jobs [0].from)))
            break;
        int count = 1;
        while (count < config->credit
           &&  (jobs [count].body = mdp_worker_recv_ready (worker, &jobs [count].size, &jobs [count].from)))
            count++;
        svc_metrics_busy (+1);
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
        svc_metrics_busy (-1);
    }
    if (config->index >= 0)
        __atomic_store_n (&s_workers [config->index], NULL, __ATOMIC_RELEASE);
    mdp_worker_destroy (&worker);
    pg_destroy (&db);
    return NULL;
}

bool
svc_worker_connected (int count)
{
    bool connected = false;
    for (int i = 0; i < count && !connected; i++) {
        mdp_worker_t *worker = __atomic_load_n (&s_workers [i], __ATOMIC_ACQUIRE);
        connected = worker && mdp_worker_connected (worker);
    }
    return connected;
}
