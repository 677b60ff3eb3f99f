/* svc_internal.h - what the runtime's modules share among themselves: svc.c (svc_main, the
   handler's helpers), svc_worker.c, svc_events.c, svc_tick.c and svc_call.c. Services include
   svc.h, never this. */
#ifndef KAIIN_SVC_INTERNAL_H
#define KAIIN_SVC_INTERNAL_H
#include "mdp.h"
#include "svc.h"
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SVC_MAX_WORKERS 64

/* What one runtime thread runs with. svc_main owns it and keeps it until the thread is
   joined; the thread borrows it (and the strings it points to) for its whole life. */
typedef struct {
    const svc_def_t *def;
    const char *broker;
    const char *pg_url;
    char instance [96];
    int index;                        /* a worker's row in s_workers, or -1 */
    char service [MDP_NAME_MAX];      /* what a worker registers as: the service, or one method */
    int credit;                       /* requests a worker thread may hold at once */
    const uint8_t *announce;          /* what its READY tells the gateway (svc_http) */
    size_t announce_size;
} svc_thread_t;

/* Set once the process is asked to stop (SIGTERM, SIGINT); every thread ends its loop then.
   Defined in svc.c; svc_interrupted reads it. */
extern volatile sig_atomic_t svc_stop;

/* svc.c */

/* Remembers every statement a service thread may run on db, the runtime's and the service's
   own; the next pg_ensure prepares them (svc_main's first one stops the service at start when
   the server refuses one). */
void svc_prepare_all (pg_t *db, const svc_def_t *def);

/* Sleeps up to ms, waking early when the process is asked to stop. */
void svc_nap (int ms);

/* svc_worker.c: worker threads, each serving the requests it takes as jobs. */

/* A worker thread (pthread start routine; arg is its const svc_thread_t *, borrowed). A thread
   with index >= 0 is counted by svc_worker_connected. Returns NULL when asked to stop. */
void *svc_worker_thread (void *arg);

/* True when one of the workers of index 0 to count - 1 is connected to the broker. */
bool svc_worker_connected (int count);

/* svc_events.c: serving <name>.EventsSince, and consuming other services' events. */

/* The consumer_positions table, migrated into every service's schema after the outbox's. */
extern const pg_migration_t svc_events_migrations [];

/* Records the consumer's statements on db, for pg_ensure to prepare. */
void svc_events_prepare (pg_t *db);

/* Serves <name>.EventsSince from source's outbox. Returns 0, or -1 with reply set. */
int svc_events_since (svc_request_t *request, svc_reply_t *reply, const char *source);

/* Applies one batch of consumer's source's events after the stored position (exactly once: the
   position row is locked, and events at or below it are skipped). Waits up to wait_ms for
   events. Returns the number of events applied, 0 when there were none, -1 after an apply or
   database error (rolled back), -2 when the source did not answer (its status in *status). */
int svc_events_consume (pg_t *db, const svc_consumer_t *consumer, int wait_ms,
                        Kaiin__Status *status);

/* Whether consumer's source has answered this process once: a source that did is deployed
   here, and not answering now is a moment's absence (a restart, a loaded machine). */
bool svc_events_source_seen (const svc_consumer_t *consumer);

/* A consumer's thread (pthread start routine; arg is its const svc_thread_t *, borrowed, index
   naming the consumer): applies its source's events until asked to stop. Returns NULL. */
void *svc_events_consumer_thread (void *arg);

/* svc_tick.c: the tick threads and the test clock's ClockSet. */

/* Serves <name>.ClockSet for def (test mode only): moves the clock forward, runs the tick until
   nothing is due, then drains every consumer. Returns 0, or -1 with reply set. */
int svc_tick_clock_set (const svc_def_t *def, svc_request_t *request, svc_reply_t *reply);

/* A tick thread (pthread start routine; arg is its const svc_thread_t *, borrowed): runs the
   service's scheduled work whenever some is due, until asked to stop. Returns NULL. */
void *svc_tick_thread (void *arg);

/* svc_call.c: calling another service, and what a call says about its caller. */

/* Names def as the caller of every svc_call ("service:<name>"). Set once by svc_main, before
   any thread starts; def is borrowed for the process's life. */
void svc_call_set_service (const svc_def_t *def);

/* The request this thread is serving (borrowed; NULL: none): svc_call carries its id and now,
   and a consumer its now. */
void svc_call_set_current (const Kaiin__Request *request);

/* This thread's current request (borrowed), or NULL. */
const Kaiin__Request *svc_call_current (void);

/* svc_metrics.c: <name>.Prometheus (proto/metrics.proto), what this process counts and what its
   data says, in Prometheus text. */

/* Before the threads start: the service, this process's name ("host:pid"), its workers. */
void svc_metrics_init (const svc_def_t *def, const char *process, int workers);

/* The counters' slot of a request for entry (one of def's methods) or, when entry is the
   table's end, for one of the runtime's methods by name; -1 for none. */
int svc_metrics_slot (const svc_method_t *entry, const char *method);

/* Counts one answered request of slot with its status and the time it took. */
void svc_metrics_count (int slot, Kaiin__Status status, int64_t elapsed_us);

/* A worker took requests (+1) or answered them all (-1). */
void svc_metrics_busy (int change);

/* Records the statements of the data's figures (the runtime's and def's gauges). */
void svc_metrics_prepare (pg_t *db, const svc_def_t *def);

/* Serves <name>.Prometheus. Returns 0, or -1 with reply set. */
int svc_metrics_reply (pg_t *db, svc_reply_t *reply);

#endif
