/* mdp_broker.h - the Majordomo broker: service workers connect out to it, requests go to the
   longest-waiting live worker of their service */
#ifndef KAIIN_MDP_BROKER_H
#define KAIIN_MDP_BROKER_H
#include "mdp.h"
#include <stddef.h>
#include <stdint.h>

typedef struct _mdp_broker_t mdp_broker_t;


/* Called exactly once per submitted request, on the broker's thread. data is borrowed for
   the duration of the call. Keep it short: it runs inside the broker loop. */
typedef void (mdp_reply_fn) (void *arg, mdp_status_t status, const void *data, size_t size);

/* Binds a ROUTER socket on endpoint and starts the broker thread. NULL when the bind fails. */
mdp_broker_t *mdp_broker_new (const char *endpoint);

/* Stops the thread, fails every pending request with MDP_SHUTDOWN, tells the workers to
   disconnect, frees everything. Nothing when *self_p is NULL. */
void mdp_broker_destroy (mdp_broker_t **self_p);

/* Queues a request for service; callable from any thread. body is copied. deadline_us is on
   clock_mono_us (). fn is always called, possibly before this returns. method ("member.Get",
   or NULL) names the method called: when workers have registered for that method by its name
   as a service of its own (workers that serve several of its requests together), it goes to
   them, else to service's workers. */
void mdp_broker_submit (mdp_broker_t *self, const char *service, const char *method,
                        const void *body, size_t size, int64_t deadline_us,
                        mdp_reply_fn *fn, void *arg);

/* Number of live workers of service (any thread). */
int mdp_broker_workers (mdp_broker_t *self, const char *service);

/* Number of requests of service waiting for a worker now (any thread). */
int mdp_broker_queued (mdp_broker_t *self, const char *service);

/* Calls fn once per live worker instance with its counts (any thread; under the broker's
   stats lock, so fn must not call back into the broker). */
typedef void (mdp_stat_fn) (void *arg, const char *service, const char *instance,
                            int workers, uint64_t requests);
void mdp_broker_stats (mdp_broker_t *self, mdp_stat_fn *fn, void *arg);

/* A count that grows each time a service announces something new in its workers' READY
   (any thread): a caller keeping what services announced rereads it when this changed. */
uint64_t mdp_broker_announced (mdp_broker_t *self);

/* Calls fn with each service's latest announcement (any thread; under the broker's stats
   lock, so fn must copy what it keeps and not call back into the broker). */
typedef void (mdp_announce_fn) (void *arg, const char *service, const void *data, size_t size);
void mdp_broker_announcements (mdp_broker_t *self, mdp_announce_fn *fn, void *arg);

#endif
