/* svc_tick.c - a service's scheduled work: the tick threads, and <name>.ClockSet (test mode),
   which moves the test clock, runs what fell due and drains the consumers */
#include "svc_internal.h"
#include "clock.h"
#include "clock.pb-c.h"
#include "log.h"
#include <pthread.h>
#include <stdint.h>

#define SOURCE_WAIT_MS 3000             /* how long ClockSet waits for a source seen before */
#define TICKING_WAIT_MS 30000           /* ... and for the tick threads, at most */

/* How many tick threads are inside a tick: ClockSet's own run skips rows a tick thread holds
   (for update skip locked), so it waits for them to finish before it answers. */
static pthread_mutex_t s_ticking_lock = PTHREAD_MUTEX_INITIALIZER;
static int s_ticking;

static void
s_ticking_add (int delta)
{
    pthread_mutex_lock (&s_ticking_lock);
    s_ticking += delta;
    pthread_mutex_unlock (&s_ticking_lock);
}

/* Waits until no tick thread is inside a tick; true if one was (so its work may have left
   more due, or may have been skipped by the caller's run). *waited_ms counts the waits of one
   ClockSet: past TICKING_WAIT_MS it answers without them (a thread stuck on a relay), logged. */
static bool
s_wait_for_tick_threads (int64_t *waited_ms)
{
    bool waited = false;
    while (!svc_stop) {
        pthread_mutex_lock (&s_ticking_lock);
        int ticking = s_ticking;
        pthread_mutex_unlock (&s_ticking_lock);
        if (ticking == 0)
            break;
        if (*waited_ms >= TICKING_WAIT_MS) {
            log_warn ("the clock answers while %d tick threads still work", ticking);
            return false;
        }
        waited = true;
        usleep (10 * 1000);
        *waited_ms += 10;
    }
    return waited;
}

/* <name>.ClockSet (test mode only): moves the clock forward, runs the tick until nothing is
   due and no tick thread is still at work, then drains every consumer until it is caught up. */
int
svc_tick_clock_set (const svc_def_t *def, svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__ClockSetRequest *set = (Kaiin__ClockSetRequest *)
        svc_unpack (request, &kaiin__clock_set_request__descriptor, reply);
    if (!set)
        return -1;
    clock_set_ms (set->now_ms);
    protobuf_c_message_free_unpacked (&set->base, NULL);
    int64_t work = 0, ticking_ms = 0;
    int rc;
    do {
        while (def->tick && !svc_stop && (rc = def->tick (request->db, clock_now_ms ())) != 0) {
            pg_end_request (request->db);
            if (rc < 0)
                return svc_db_fail (reply, request->db);
            work += rc;
        }
        pg_end_request (request->db);   /* holding nothing a tick thread may wait for */
    } while (def->tick && s_wait_for_tick_threads (&ticking_ms));
    for (const svc_consumer_t *consumer = def->consumers; consumer && consumer->source; consumer++) {
        Kaiin__Status status;
        int64_t waited_ms = 0;
        while (!svc_stop && (rc = svc_events_consume (request->db, consumer, 0, &status)) != 0) {
            /* A source that answered before is waited for a while: the reply promises every
               consumer caught up. One never seen is not deployed here: skipped at once. */
            if (rc == -2 && status == KAIIN__STATUS__UNAVAILABLE
            &&  svc_events_source_seen (consumer) && waited_ms < SOURCE_WAIT_MS) {
                svc_nap (100);
                waited_ms += 100;
                continue;
            }
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

/* A tick thread: runs the service's scheduled work whenever some is due. */
void *
svc_tick_thread (void *arg)
{
    const svc_thread_t *config = arg;
    pg_t *db = pg_new (config->pg_url, config->def->name);
    svc_prepare_all (db, config->def);
    while (!svc_stop) {
        s_ticking_add (1);
        int rc = pg_ensure (db) == 0? config->def->tick (db, clock_now_ms ()): -1;
        pg_end_request (db);
        s_ticking_add (-1);
        if (rc > 0)
            continue;                   /* more may be due: the batch in hand is finished */
        svc_nap (1000);
    }
    pg_destroy (&db);
    return NULL;
}
