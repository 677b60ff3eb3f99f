/* svc_events.c - a service's events: serving <name>.EventsSince from its outbox, and the
   consumers that apply other services' events exactly once */
#include "svc_internal.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "outbox.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define CONSUMER_BATCH 500
#define CONSUMER_WAIT_MS 1000
#define SOURCES_MAX 16

/* The consumers whose source has answered (svc_events_source_seen). */
static const svc_consumer_t *s_seen [SOURCES_MAX];
static int s_seen_count;
static pthread_mutex_t s_seen_lock = PTHREAD_MUTEX_INITIALIZER;

bool
svc_events_source_seen (const svc_consumer_t *consumer)
{
    pthread_mutex_lock (&s_seen_lock);
    bool seen = false;
    for (int i = 0; i < s_seen_count && !seen; i++)
        seen = s_seen [i] == consumer;
    pthread_mutex_unlock (&s_seen_lock);
    return seen;
}

static void
s_seen_add (const svc_consumer_t *consumer)
{
    pthread_mutex_lock (&s_seen_lock);
    int i = 0;
    while (i < s_seen_count && s_seen [i] != consumer)
        i++;
    if (i == s_seen_count && s_seen_count < SOURCES_MAX)
        s_seen [s_seen_count++] = consumer;
    pthread_mutex_unlock (&s_seen_lock);
}

/* The runtime's own tables in every service's schema, applied after the outbox's. */
const pg_migration_t svc_events_migrations [] = {
    { "000_consumer_positions",
      "create table consumer_positions ("
      "  source text primary key,"
      "  seq bigint not null default 0);" },
    { NULL, NULL }
};

int
svc_events_since (svc_request_t *request, svc_reply_t *reply, const char *source)
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

/* Applies one batch of source's events after the stored position (exactly once: the
   position row is locked, and events at or below it are skipped). Returns the number of
   events applied, 0 when there were none, -1 after an apply or database error (rolled
   back), -2 when the source did not answer (its status in *status). */
int
svc_events_consume (pg_t *db, const svc_consumer_t *consumer, int wait_ms, Kaiin__Status *status)
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
    query.max = (int) config_int ("KAIIN_CONSUMER_BATCH", consumer->batch? consumer->batch: CONSUMER_BATCH, 1, 1000);
    query.wait_ms = wait_ms;
    Kaiin__EventsSinceReply *events = NULL;
    *status = svc_call (method, &query.base, &kaiin__events_since_reply__descriptor,
                        (ProtobufCMessage **) &events, wait_ms? wait_ms + 2000: 30000);
    if (*status != KAIIN__STATUS__OK)
        return -2;
    s_seen_add (consumer);
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
    const Kaiin__Request *current = svc_call_current ();
    int64_t now_ms = current && current->now_ms? current->now_ms: clock_now_ms ();
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
    if (consumer->flush && consumer->flush (db, true) == -1) {
        log_warn ("writing the batch of '%s' up to event %lld failed; retrying later", source,
                  (long long) position);
        goto rollback;
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
    if (consumer->flush)
        consumer->flush (db, false);
fail:
    pg_end_request (db);
    protobuf_c_message_free_unpacked (&events->base, NULL);
    return -1;
}

void
svc_events_prepare (pg_t *db)
{
    pg_prepare (db, "consumer_position", "select seq from consumer_positions where source = $1");
    pg_prepare (db, "consumer_ensure",
            "insert into consumer_positions (source, seq) values ($1, 0) on conflict do nothing");
    pg_prepare (db, "consumer_lock",
            "select seq from consumer_positions where source = $1 for update");
    pg_prepare (db, "consumer_store",
            "update consumer_positions set seq = $2::bigint where source = $1");
}

/* A consumer's thread: reads its source's events and applies them, until asked to stop. */
void *
svc_events_consumer_thread (void *arg)
{
    const svc_thread_t *config = arg;
    const svc_consumer_t *consumer = &config->def->consumers [config->index];
    pg_t *db = pg_new (config->pg_url, config->def->name);
    svc_prepare_all (db, config->def);
    int backoff_ms = 100;
    while (!svc_stop) {
        Kaiin__Status status;
        int rc = svc_events_consume (db, consumer, CONSUMER_WAIT_MS, &status);
        if (rc >= 0) {
            backoff_ms = 100;
            continue;
        }
        /* The source is away (at most a second between tries), or an event cannot be
           applied yet (longer, up to 5 s: the database or the data must change first). */
        int limit = rc == -2? 1000: 5000;
        svc_nap (backoff_ms);
        backoff_ms = backoff_ms * 2 > limit? limit: backoff_ms * 2;
    }
    pg_destroy (&db);
    return NULL;
}
