/* mdp_worker.c - the worker side of Majordomo: connect out to the broker, announce a service,
   heartbeat, reconnect with back-off, receive requests and send replies */
#include "mdp_worker.h"
#include "clock.h"
#include "curve.h"
#include "log.h"
#include "mdp.h"
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 3000

struct _mdp_worker_t {
    void *socket;
    char *broker;
    char *service;
    char *instance;
    uint8_t *announce;              /* sent with every READY */
    size_t announce_size;
    volatile sig_atomic_t *stop;
    int64_t broker_expiry_us;       /* a new socket when the broker is silent past this */
    int64_t heard_us;               /* when the broker last spoke (atomic: read by other threads) */
    int64_t heartbeat_at_us;
    int backoff_ms;
    int credit;                     /* requests the broker may send before a reply */
};

static void *s_context;
static pthread_once_t s_context_once = PTHREAD_ONCE_INIT;
static void s_context_new (void) { s_context = zmq_ctx_new (); }

static void
s_send (mdp_worker_t *self, const char *command, const void *part1, size_t size1,
        const void *body, size_t body_size)
{
    zmq_send (self->socket, "", 0, ZMQ_SNDMORE);
    zmq_send (self->socket, MDPW_WORKER, strlen (MDPW_WORKER), ZMQ_SNDMORE);
    if (command [0] == MDPW_READY [0]) {
        char credit [8];
        snprintf (credit, sizeof credit, "%d", self->credit);
        zmq_send (self->socket, command, 1, ZMQ_SNDMORE);
        zmq_send (self->socket, part1, size1, ZMQ_SNDMORE);
        zmq_send (self->socket, body, body_size, ZMQ_SNDMORE);
        zmq_send (self->socket, credit, strlen (credit), ZMQ_SNDMORE);
        zmq_send (self->socket, self->announce, self->announce_size, 0);
    }
    else
    if (command [0] == MDPW_REPLY [0]) {
        zmq_send (self->socket, command, 1, ZMQ_SNDMORE);
        zmq_send (self->socket, part1, size1, ZMQ_SNDMORE);
        zmq_send (self->socket, "", 0, ZMQ_SNDMORE);
        zmq_send (self->socket, body, body_size, 0);
    }
    else
        zmq_send (self->socket, command, 1, 0);
}

static void
s_connect (mdp_worker_t *self)
{
    if (self->socket)
        zmq_close (self->socket);
    self->socket = zmq_socket (s_context, ZMQ_DEALER);
    int linger = 0, reconnect_ivl = BACKOFF_MIN_MS, reconnect_max = BACKOFF_MAX_MS;
    zmq_setsockopt (self->socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->socket, ZMQ_RECONNECT_IVL, &reconnect_ivl, sizeof reconnect_ivl);
    zmq_setsockopt (self->socket, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max);
    curve_client_apply (self->socket);
    if (zmq_connect (self->socket, self->broker) == -1)
        log_error ("cannot connect to '%s': %s", self->broker, zmq_strerror (errno));
    s_send (self, MDPW_READY, self->service, strlen (self->service),
            self->instance, strlen (self->instance));
    int64_t now = clock_mono_us ();
    self->broker_expiry_us = now + (int64_t) MDP_WORKER_PATIENCE_MS * 1000;
    self->heartbeat_at_us = now + MDP_HEARTBEAT_MS * 1000;
}

mdp_worker_t *
mdp_worker_new (const char *broker, const char *service, const char *instance, int credit,
                const void *announce, size_t announce_size, volatile sig_atomic_t *stop)
{
    pthread_once (&s_context_once, s_context_new);
    mdp_worker_t *self = calloc (1, sizeof *self);
    assert (self);
    self->broker = strdup (broker);
    self->service = strdup (service);
    self->instance = strdup (instance);
    self->announce_size = announce_size;
    self->announce = malloc (announce_size + 1);
    assert (self->announce);
    if (announce_size)
        memcpy (self->announce, announce, announce_size);
    self->stop = stop;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->credit = credit < 1? 1: credit > MDP_MAX_CREDIT? MDP_MAX_CREDIT: credit;
    s_connect (self);
    return self;
}

void
mdp_worker_destroy (mdp_worker_t **self_p)
{
    mdp_worker_t *self = *self_p;
    if (!self)
        return;
    /* Give the goodbye a moment on the wire, so the broker forgets this worker at once. */
    int linger = 250;
    zmq_setsockopt (self->socket, ZMQ_LINGER, &linger, sizeof linger);
    s_send (self, MDPW_DISCONNECT, NULL, 0, NULL, 0);
    zmq_close (self->socket);
    free (self->broker);
    free (self->service);
    free (self->instance);
    free (self->announce);
    free (self);
    *self_p = NULL;
}

/* Sleeps up to ms, waking early when asked to stop. */
static void
s_backoff (mdp_worker_t *self)
{
    for (int slept = 0; slept < self->backoff_ms && !*self->stop; slept += 50)
        zmq_poll (NULL, 0, 50);
    self->backoff_ms = self->backoff_ms * 2 > BACKOFF_MAX_MS? BACKOFF_MAX_MS: self->backoff_ms * 2;
}

/* Reads one message; returns its body for a REQUEST, else NULL (heartbeats, noise, or
   nothing there). */
static void *
s_read (mdp_worker_t *self, size_t *size, mdp_address_t *from)
{
    zmq_msg_t frames [7];
    int count = 0, more = 1;
    while (more && count < 7) {
        zmq_msg_init (&frames [count]);
        if (zmq_msg_recv (&frames [count], self->socket, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&frames [count]);
            more = 0;
            break;
        }
        more = zmq_msg_more (&frames [count++]);
    }
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init (&extra);
        zmq_msg_recv (&extra, self->socket, 0);
        more = zmq_msg_more (&extra);
        zmq_msg_close (&extra);
    }
    void *body = NULL;
    if (count >= 3 && zmq_msg_size (&frames [2]) == 1) {
        int64_t now = clock_mono_us ();
        self->broker_expiry_us = now + (int64_t) MDP_WORKER_PATIENCE_MS * 1000;
        __atomic_store_n (&self->heard_us, now, __ATOMIC_RELAXED);
        self->backoff_ms = BACKOFF_MIN_MS;
        char command = *(char *) zmq_msg_data (&frames [2]);
        if (command == MDPW_REQUEST [0] && count == 6
        &&  zmq_msg_size (&frames [3]) <= sizeof from->data) {
            from->size = zmq_msg_size (&frames [3]);
            memcpy (from->data, zmq_msg_data (&frames [3]), from->size);
            *size = zmq_msg_size (&frames [5]);
            body = malloc (*size? *size: 1);
            assert (body);
            memcpy (body, zmq_msg_data (&frames [5]), *size);
        }
        else
        if (command == MDPW_DISCONNECT [0]) {
            log_info ("the broker asked '%s' to reconnect", self->service);
            s_connect (self);
        }
    }
    for (int i = 0; i < count; i++)
        zmq_msg_close (&frames [i]);
    return body;
}

void
mdp_worker_shutdown (void)
{
    if (s_context)
        zmq_ctx_term (s_context);       /* waits for every closed socket's linger */
    s_context = NULL;
}

bool
mdp_worker_connected (mdp_worker_t *self)
{
    int64_t heard = __atomic_load_n (&self->heard_us, __ATOMIC_RELAXED);
    return heard && heard + (int64_t) MDP_HEARTBEAT_MS * MDP_LIVENESS * 1000 > clock_mono_us ();
}

void *
mdp_worker_recv_ready (mdp_worker_t *self, size_t *size, mdp_address_t *from)
{
    while (true) {
        zmq_pollitem_t item = { self->socket, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 0) <= 0 || !(item.revents & ZMQ_POLLIN))
            return NULL;
        void *body = s_read (self, size, from);
        if (body)
            return body;
    }
}

void *
mdp_worker_recv (mdp_worker_t *self, size_t *size, mdp_address_t *from)
{
    while (!*self->stop) {
        zmq_pollitem_t item = { self->socket, 0, ZMQ_POLLIN, 0 };
        int64_t wait_us = self->heartbeat_at_us - clock_mono_us ();
        if (zmq_poll (&item, 1, wait_us > 0? (long) (wait_us + 999) / 1000: 0) == -1
        &&  errno != EINTR)
            return NULL;
        if (item.revents & ZMQ_POLLIN) {
            void *body = s_read (self, size, from);
            if (body)
                return body;
        }
        int64_t now = clock_mono_us ();
        if (now > self->broker_expiry_us) {
            log_warn ("broker '%s' is silent, reconnecting in %d ms", self->broker, self->backoff_ms);
            s_backoff (self);
            s_connect (self);
        }
        else
        if (now >= self->heartbeat_at_us) {
            s_send (self, MDPW_HEARTBEAT, NULL, 0, NULL, 0);
            self->heartbeat_at_us = now + MDP_HEARTBEAT_MS * 1000;
        }
    }
    return NULL;
}

int
mdp_worker_reply (mdp_worker_t *self, const mdp_address_t *to, const void *data, size_t size)
{
    if (!to->size)
        return -1;
    s_send (self, MDPW_REPLY, to->data, to->size, data, size);
    return 0;
}
