/* mdp_worker.h - the worker side of Majordomo: connect out to the broker, announce a service,
   heartbeat, reconnect with back-off, receive requests and send replies */
#ifndef KAIIN_MDP_WORKER_H
#define KAIIN_MDP_WORKER_H
#include "mdp.h"
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct _mdp_worker_t mdp_worker_t;

/* Where a request came from: its reply goes back there. */
typedef struct {
    unsigned char data [16];
    size_t size;
} mdp_address_t;

/* Connects to broker (e.g. "tcp://127.0.0.1:5555") and announces service. instance labels this
   process in the broker's statistics ("host:pid"); credit (1 to MDP_MAX_CREDIT) is how many
   requests the broker may send it before it replies, so that it can serve several together.
   announce (copied; announce_size 0 for nothing) goes with every READY: what the service
   tells the gateway about itself (proto/api.proto). The worker stops waiting as soon as
   *stop turns non-zero. Never NULL: connecting happens in the background. */
mdp_worker_t *mdp_worker_new (const char *broker, const char *service, const char *instance,
                              int credit, const void *announce, size_t announce_size,
                              volatile sig_atomic_t *stop);

/* Tells the broker this worker is leaving, then frees it. Call it after replying to every
   request received: one that crossed the DISCONNECT on the wire was never started, and the
   broker hands it to another worker. Nothing when *self_p is NULL. */
void mdp_worker_destroy (mdp_worker_t **self_p);

/* Waits for the next request, heartbeating meanwhile. Returns its body, which the caller frees,
   with its size in *size and where it came from in *from; NULL once *stop is set. */
void *mdp_worker_recv (mdp_worker_t *self, size_t *size, mdp_address_t *from);

/* The same for a request that is already here, without waiting: NULL when there is none. */
void *mdp_worker_recv_ready (mdp_worker_t *self, size_t *size, mdp_address_t *from);

/* Sends the reply to the request that came from *to. Returns 0, or -1 when it cannot be sent. */
int mdp_worker_reply (mdp_worker_t *self, const mdp_address_t *to, const void *data, size_t size);

/* After every worker is destroyed: flushes what they sent last (their replies and goodbyes),
   within the sockets' linger, and frees the process's ZeroMQ context. Call before exiting. */
void mdp_worker_shutdown (void);

/* True while the broker has been heard within its liveness window; safe from any thread. */
bool mdp_worker_connected (mdp_worker_t *self);

#endif
