/* svc.c - a service's runtime: configuration, migrations, health, svc_main starting and
   stopping its threads, and the helpers handlers answer with. The threads' work lives in
   svc_worker.c, svc_events.c, svc_tick.c and svc_call.c (svc_internal.h) */
#include "svc_internal.h"
#include "config.h"
#include "curve.h"
#include "idempotency.h"
#include "log.h"
#include "messages.h"
#include "mdp_worker.h"
#include "outbox.h"
#include "svc_openapi.h"
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

#define MAX_TICK_THREADS 16
#define MAX_CONSUMERS 16
#define MAX_BATCH_THREADS 32

volatile sig_atomic_t svc_stop;

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
    return svc_stop != 0;
}

static void
s_on_signal (int signum)
{
    (void) signum;
    svc_stop = 1;
}

int
svc_fail (svc_reply_t *reply, Kaiin__Status status, const char *fmt, ...)
{
    reply->status = status;
    reply->code = messages_code (fmt);
    va_list args;
    va_start (args, fmt);
    vsnprintf (reply->message, sizeof reply->message, messages_say (reply->japanese, fmt), args);
    va_end (args);
    return -1;
}

/* Sets INVALID_ARGUMENT on a reply without an error yet. True when there is room for another
   field error. */
static bool
s_field_error_room (svc_reply_t *reply)
{
    if (reply->status == KAIIN__STATUS__OK) {
        reply->status = KAIIN__STATUS__INVALID_ARGUMENT;
        reply->code = messages_code ("the request has invalid fields");
        snprintf (reply->message, sizeof reply->message, "%s",
                  messages_say (reply->japanese, "the request has invalid fields"));
    }
    return reply->error_count < SVC_MAX_FIELD_ERRORS;
}

void
svc_field_error (svc_reply_t *reply, const char *field, const char *fmt, ...)
{
    if (!s_field_error_room (reply))
        return;
    snprintf (reply->errors [reply->error_count].field, sizeof reply->errors [0].field, "%s", field);
    reply->errors [reply->error_count].code = messages_code (fmt);
    va_list args;
    va_start (args, fmt);
    vsnprintf (reply->errors [reply->error_count].reason, sizeof reply->errors [0].reason,
               messages_say (reply->japanese, fmt), args);
    va_end (args);
    reply->error_count++;
}

void
svc_field_error_coded (svc_reply_t *reply, const char *field, const char *code, const char *reason)
{
    if (!s_field_error_room (reply))
        return;
    snprintf (reply->errors [reply->error_count].field, sizeof reply->errors [0].field, "%s", field);
    reply->errors [reply->error_count].code = code;
    snprintf (reply->errors [reply->error_count].reason, sizeof reply->errors [0].reason, "%s", reason);
    reply->error_count++;
}

int
svc_fail_say (svc_reply_t *reply, Kaiin__Status status, const char *english)
{
    svc_fail (reply, status, "%s", messages_say (reply->japanese, english));
    reply->code = messages_code (english);
    return -1;
}

void
svc_field_error_say (svc_reply_t *reply, const char *field, const char *english)
{
    svc_field_error_coded (reply, field, messages_code (english), messages_say (reply->japanese, english));
}

int
svc_db_fail_at (svc_reply_t *reply, pg_t *db, const char *file, int line)
{
    if (pg_lost (db))
        return svc_fail (reply, KAIIN__STATUS__UNAVAILABLE, "the database is unavailable");
    if (!*pg_sqlstate (db)) {
        log_error ("a request failed after its statements succeeded (%s:%d)", file, line);
        return svc_fail (reply, KAIIN__STATUS__INTERNAL, "Internal error");
    }
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

void
svc_reply_session_start (svc_reply_t *reply, const char *kind, const char *id, const char *role)
{
    snprintf (reply->session.kind, sizeof reply->session.kind, "%s", kind);
    snprintf (reply->session.id, sizeof reply->session.id, "%s", id);
    snprintf (reply->session.role, sizeof reply->session.role, "%s", role? role: "");
}

void
svc_reply_session_end (svc_reply_t *reply, const char *kind, const char *id, bool keep_caller)
{
    assert (reply->end_count < sizeof reply->ends / sizeof reply->ends [0]);
    snprintf (reply->ends [reply->end_count].kind, sizeof reply->ends [0].kind, "%s", kind);
    snprintf (reply->ends [reply->end_count].id, sizeof reply->ends [0].id, "%s", id);
    reply->ends [reply->end_count++].keep_caller = keep_caller;
}

void
svc_reply_header (svc_reply_t *reply, const char *name, const char *fmt, ...)
{
    assert (reply->header_count < sizeof reply->headers / sizeof reply->headers [0]);
    snprintf (reply->headers [reply->header_count].name, sizeof reply->headers [0].name, "%s", name);
    va_list args;
    va_start (args, fmt);
    vsnprintf (reply->headers [reply->header_count++].value, sizeof reply->headers [0].value, fmt, args);
    va_end (args);
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

/* Remembers every statement a service thread may run: the runtime's and the service's own
   (consumers and ticks write through the service's stores and the outbox too). The thread's
   next pg_ensure prepares them all in one round trip. */
void
svc_prepare_all (pg_t *db, const svc_def_t *def)
{
    outbox_prepare (db);
    idempotency_prepare (db);
    svc_events_prepare (db);
    svc_metrics_prepare (db, def);
    if (def->prepare)
        def->prepare (db);
}

/* Sleeps up to ms, waking early when the process is asked to stop. */
void
svc_nap (int ms)
{
    for (int slept = 0; slept < ms && !svc_stop; slept += 50)
        usleep (50 * 1000);
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
    if (svc_worker_connected (workers) && PQping (pg_url) == PQPING_OK) {
        FILE *file = fopen (path, "w");
        if (file)
            fclose (file);
    }
    else
        unlink (path);
}

/* Starts a worker thread of method's own, registered as "<service>.<method>" with credit,
   from config (the service's workers'), kept in *thread_config. */
static void
s_own_worker (const svc_thread_t *config, const char *method, int credit,
              svc_thread_t *thread_config, pthread_t *thread)
{
    *thread_config = *config;
    thread_config->index = -1;
    thread_config->credit = credit;
    thread_config->announce = NULL;
    thread_config->announce_size = 0;
    snprintf (thread_config->service, sizeof thread_config->service, "%s.%s",
              config->def->name, method);
    pthread_create (thread, NULL, svc_worker_thread, thread_config);
}

int
svc_main (const svc_def_t *def, int argc, char **argv)
{
    if (argc > 1 && strcmp (argv [1], "--healthcheck") == 0)
        return s_healthcheck (def);
    log_init (def->name);
    if (def->messages)
        messages_add (def->messages);
    svc_call_set_service (def);
    signal (SIGPIPE, SIG_IGN);
    struct sigaction action = { .sa_handler = s_on_signal };
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);
    if (curve_client_init () == -1)
        return 1;
    for (const svc_method_t *entry = def->methods; entry->method; entry++)   /* a method's own   */
        assert (strlen (def->name) + 1 + strlen (entry->method) < MDP_NAME_MAX);   /* workers' name */

    char *pg_url = s_setting (def->name, "PG_URL", NULL);
    char *owner_url = s_setting (def->name, "PG_OWNER_URL", NULL);
    char default_dir [128];
    snprintf (default_dir, sizeof default_dir, "services/%s/migrations", def->name);
    char *migrations = s_setting (def->name, "MIGRATIONS", default_dir);
    char setting [80];
    int workers = (int) config_int (s_setting_name (def->name, "WORKERS", setting, sizeof setting),
                                    8, 1, SVC_MAX_WORKERS);
    /* A method with a batch handler has workers of its own, registered by the method's name:
       each holds up to batch_credit of its requests at once and serves them together. They
       see no other method, so no request waits behind a slow one of another kind. */
    int batch_workers = (int) config_int (s_setting_name (def->name, "BATCH_WORKERS", setting, sizeof setting),
                                          2, 0, SVC_MAX_WORKERS);
    int batch_credit = (int) config_int (s_setting_name (def->name, "BATCH_CREDIT", setting, sizeof setting),
                                         MDP_MAX_CREDIT, 1, MDP_MAX_CREDIT);
    /* <name>.EventsSince has workers of its own too: each consumer of this service holds one
       for up to a second at a time (a long poll), which would otherwise take a worker from
       every other method (three consumers of member held three of its four). */
    int events_workers = (int) config_int (s_setting_name (def->name, "EVENTS_WORKERS", setting, sizeof setting),
                                           4, 0, 8);
    svc_thread_t config = {
        .def = def,
        .broker = config_str ("KAIIN_BROKER_ENDPOINT", "tcp://127.0.0.1:5555"),
        .pg_url = pg_url,
        .credit = 1
    };
    snprintf (config.service, sizeof config.service, "%s", def->name);
    uint8_t *announce = def->http? svc_openapi_announcement (def, &config.announce_size): NULL;
    config.announce = announce;
    char host [64] = "localhost";
    gethostname (host, sizeof host - 1);
    snprintf (config.instance, sizeof config.instance, "%s:%d", host, (int) getpid ());
    svc_metrics_init (def, config.instance, workers);

    /* The runtime's own tables come first: the outbox, consumer positions, idempotency keys. */
    pg_migration_t builtin [16];
    size_t builtin_count = 0;
    const pg_migration_t *const sets [] = { outbox_migrations, svc_events_migrations,
                                            idempotency_migrations };
    for (size_t set = 0; set < sizeof sets / sizeof sets [0]; set++)
        for (const pg_migration_t *migration = sets [set]; migration->version; migration++) {
            assert (builtin_count + 1 < sizeof builtin / sizeof builtin [0]);
            builtin [builtin_count++] = *migration;
        }
    builtin [builtin_count] = (pg_migration_t) { NULL, NULL };

    /* PostgreSQL may still be starting (containers, reboots): retry for a while. */
    int rc = -1;
    for (int attempt = 0; attempt < 60 && !svc_stop; attempt++) {
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

    /* A statement the database refuses (it is not the one this build expects: an older backup
       restored, a migration changed by hand) stops the service now, where its supervisor and
       its log say so, instead of every request that needs it answering 500. */
    pg_t *check = pg_new (pg_url, def->name);
    bool reachable = pg_ensure (check) == 0;
    svc_prepare_all (check, def);
    rc = reachable? pg_ensure (check): 0;
    if (rc == -1)
        log_error ("the database of '%s' does not match this build: stopping", def->name);
    else
    if (def->start && (rc = def->start (check)) == -1)
        log_error ("service '%s' cannot start: stopping", def->name);
    pg_destroy (&check);
    if (rc == -1) {
        free (pg_url);
        free (announce);
        return 1;
    }

    pthread_t threads [SVC_MAX_WORKERS];
    svc_thread_t thread_configs [SVC_MAX_WORKERS];
    for (int i = 0; i < workers; i++) {
        thread_configs [i] = config;
        thread_configs [i].index = i;
        pthread_create (&threads [i], NULL, svc_worker_thread, &thread_configs [i]);
    }
    pthread_t batchers [MAX_BATCH_THREADS];
    svc_thread_t batcher_configs [MAX_BATCH_THREADS];
    int batcher_count = 0;
    for (const svc_method_t *entry = def->methods; entry->method; entry++)
        for (int i = 0; (entry->batch || entry->group_commit) && i < batch_workers
                     && batcher_count < MAX_BATCH_THREADS; i++, batcher_count++)
            s_own_worker (&config, entry->method, batch_credit, &batcher_configs [batcher_count],
                          &batchers [batcher_count]);
    for (int i = 0; i < events_workers && batcher_count < MAX_BATCH_THREADS; i++, batcher_count++)
        s_own_worker (&config, "EventsSince", 1, &batcher_configs [batcher_count],
                      &batchers [batcher_count]);
    /* Background threads: one per consumer, and <NAME>_TICK_THREADS for the tick. */
    pthread_t background [MAX_CONSUMERS + MAX_TICK_THREADS];
    svc_thread_t background_configs [MAX_CONSUMERS + MAX_TICK_THREADS];
    int background_count = 0;
    for (int i = 0; def->consumers && def->consumers [i].source; i++) {
        assert (i < MAX_CONSUMERS);
        background_configs [background_count] = config;
        background_configs [background_count].index = i;
        pthread_create (&background [background_count], NULL, svc_events_consumer_thread,
                        &background_configs [background_count]);
        background_count++;
    }
    if (def->tick) {
        int ticks = (int) config_int (s_setting_name (def->name, "TICK_THREADS", setting, sizeof setting),
                                      2, 1, MAX_TICK_THREADS);
        for (int i = 0; i < ticks; i++) {
            background_configs [background_count] = config;
            background_configs [background_count].index = i;
            pthread_create (&background [background_count], NULL, svc_tick_thread,
                            &background_configs [background_count]);
            background_count++;
        }
    }
    log_info ("service '%s' serving with %d workers (and %d serving one method each) through '%s'",
              def->name, workers, batcher_count, config.broker);
    char health_path [512];
    s_health_path (def, health_path, sizeof health_path);
    while (!svc_stop) {
        s_report_health (health_path, pg_url, workers);
        for (int i = 0; i < 10 && !svc_stop; i++)
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
