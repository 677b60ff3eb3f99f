/* svc.c - a service's runtime: configuration, migrations, worker threads each with its own
   PostgreSQL connection, the method table, replies with field-level errors */
#include "svc.h"
#include "clock.h"
#include "config.h"
#include "log.h"
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
#include <sys/stat.h>
#include <unistd.h>

#define MAX_WORKERS 64

static volatile sig_atomic_t s_stop;
static mdp_worker_t *s_workers [MAX_WORKERS];

typedef struct {
    const svc_def_t *def;
    const char *broker;
    const char *pg_url;
    char instance [96];
    int index;
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

/* Serves one packed envelope; returns the packed reply (caller frees) in *out. */
static size_t
s_serve (const svc_thread_t *config, pg_t *db, const void *data, size_t size, uint8_t **out)
{
    svc_reply_t reply = { .status = KAIIN__STATUS__OK };
    Kaiin__Request *envelope = kaiin__request__unpack (NULL, size, data);
    const char *name = config->def->name;
    size_t name_length = strlen (name);
    if (!envelope)
        svc_fail (&reply, KAIIN__STATUS__INVALID_ARGUMENT, "cannot decode the envelope");
    else {
        log_set_request_id (envelope->request_id);
        const char *method = envelope->method;
        if (strncmp (method, name, name_length) == 0 && method [name_length] == '.')
            method += name_length + 1;
        else
            method = "";
        const svc_method_t *entry = config->def->methods;
        while (entry->method && strcmp (entry->method, method) != 0)
            entry++;
        bool events = strcmp (method, "EventsSince") == 0;
        if (envelope->deadline_ms && envelope->deadline_ms < clock_now_ms ())
            svc_fail (&reply, KAIIN__STATUS__DEADLINE_EXCEEDED, "the deadline passed before the work began");
        else
        if (!entry->method && !events)
            svc_fail (&reply, KAIIN__STATUS__UNIMPLEMENTED, "no method '%s'", envelope->method);
        else
        if (pg_ensure (db) == -1)
            svc_fail (&reply, KAIIN__STATUS__UNAVAILABLE, "the database is unavailable");
        else {
            svc_request_t request = { .envelope = envelope, .db = db };
            if (events)
                s_events_since (&request, &reply, name);
            else
                entry->handler (&request, &reply);
            /* A transaction left open by an error must not leak into the next request. */
            pg_end_request (db);
        }
    }
    Kaiin__Reply packed_reply = KAIIN__REPLY__INIT;
    packed_reply.status = reply.status;
    packed_reply.message = reply.message;
    Kaiin__FieldError errors [SVC_MAX_FIELD_ERRORS], *error_list [SVC_MAX_FIELD_ERRORS];
    for (size_t i = 0; i < reply.error_count; i++) {
        kaiin__field_error__init (&errors [i]);
        errors [i].field = reply.errors [i].field;
        errors [i].reason = reply.errors [i].reason;
        error_list [i] = &errors [i];
    }
    packed_reply.n_errors = reply.error_count;
    packed_reply.errors = error_list;
    packed_reply.payload.data = reply.payload;
    packed_reply.payload.len = reply.payload_size;
    size_t packed_size = kaiin__reply__get_packed_size (&packed_reply);
    *out = malloc (packed_size + 1);
    assert (*out);
    kaiin__reply__pack (&packed_reply, *out);
    free (reply.payload);
    if (envelope)
        kaiin__request__free_unpacked (envelope, NULL);
    log_set_request_id (NULL);
    return packed_size;
}

static void *
s_worker_thread (void *arg)
{
    const svc_thread_t *config = arg;
    pg_t *db = pg_new (config->pg_url, config->def->name);
    if (outbox_prepare (db) == -1 || config->def->prepare (db) == -1)
        log_error ("cannot prepare the statements of '%s'", config->def->name);
    mdp_worker_t *worker = mdp_worker_new (config->broker, config->def->name,
                                           config->instance, &s_stop);
    __atomic_store_n (&s_workers [config->index], worker, __ATOMIC_RELEASE);
    while (!s_stop) {
        size_t size;
        void *body = mdp_worker_recv (worker, &size);
        if (!body)
            break;
        uint8_t *reply;
        size_t reply_size = s_serve (config, db, body, size, &reply);
        free (body);
        mdp_worker_reply (worker, reply, reply_size);
        free (reply);
    }
    __atomic_store_n (&s_workers [config->index], NULL, __ATOMIC_RELEASE);
    mdp_worker_destroy (&worker);
    pg_destroy (&db);
    return NULL;
}

/* Reads <NAME>_<suffix> (or its _FILE twin); the caller frees. */
static char *
s_setting (const char *service, const char *suffix, const char *fallback)
{
    char name [96];
    int length = snprintf (name, sizeof name, "%s_%s", service, suffix);
    for (int i = 0; i < length; i++)
        name [i] = (char) toupper ((unsigned char) name [i]);
    return config_secret (name, fallback);
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
    signal (SIGPIPE, SIG_IGN);
    struct sigaction action = { .sa_handler = s_on_signal };
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);

    char *pg_url = s_setting (def->name, "PG_URL", NULL);
    char *owner_url = s_setting (def->name, "PG_OWNER_URL", NULL);
    char default_dir [128];
    snprintf (default_dir, sizeof default_dir, "services/%s/migrations", def->name);
    char *migrations = s_setting (def->name, "MIGRATIONS", default_dir);
    char workers_name [64];
    int length = snprintf (workers_name, sizeof workers_name, "%s_WORKERS", def->name);
    for (int i = 0; i < length; i++)
        workers_name [i] = (char) toupper ((unsigned char) workers_name [i]);
    int workers = (int) config_int (workers_name, 4, 1, MAX_WORKERS);
    svc_thread_t config = {
        .def = def,
        .broker = config_str ("KAIIN_BROKER_ENDPOINT", "tcp://127.0.0.1:5555"),
        .pg_url = pg_url
    };
    char host [64] = "localhost";
    gethostname (host, sizeof host - 1);
    snprintf (config.instance, sizeof config.instance, "%s:%d", host, (int) getpid ());

    /* PostgreSQL may still be starting (containers, reboots): retry for a while. */
    int rc = -1;
    for (int attempt = 0; attempt < 60 && !s_stop; attempt++) {
        if ((rc = pg_migrate (owner_url, def->name, outbox_migrations, migrations)) == 0)
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
    log_info ("service '%s' serving with %d workers through '%s'", def->name, workers, config.broker);
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
    mdp_worker_shutdown ();
    free (pg_url);
    log_info ("service '%s' stopped", def->name);
    return 0;
}
