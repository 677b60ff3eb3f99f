/* mdp_client.c - the client side of Majordomo (MDPC01): a blocking request-reply to a service
   through the broker, for one thread at a time */
#include "mdp_client.h"
#include "clock.h"
#include "curve.h"
#include "log.h"
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define GRACE_MS 1000           /* beyond the timeout, for the broker's own answer to arrive */

struct _mdp_client_t {
    void *socket;
    char *endpoint;
    uint64_t sequence;          /* numbers this client's requests */
    char prefix [32];           /* makes correlation ids unique across clients and processes */
};

static void *s_context;
static pthread_once_t s_context_once = PTHREAD_ONCE_INIT;
static void s_context_new (void) { s_context = zmq_ctx_new (); }

static void
s_connect (mdp_client_t *self)
{
    if (self->socket)
        zmq_close (self->socket);
    self->socket = zmq_socket (s_context, ZMQ_DEALER);
    assert (self->socket);
    int linger = 0, reconnect_ivl = 100, reconnect_max = 1000;
    zmq_setsockopt (self->socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->socket, ZMQ_RECONNECT_IVL, &reconnect_ivl, sizeof reconnect_ivl);
    zmq_setsockopt (self->socket, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max);
    curve_client_apply (self->socket);
    if (zmq_connect (self->socket, self->endpoint) == -1)
        log_error ("cannot connect to '%s': %s", self->endpoint, zmq_strerror (errno));
}

mdp_client_t *
mdp_client_new (const char *endpoint)
{
    pthread_once (&s_context_once, s_context_new);
    mdp_client_t *self = calloc (1, sizeof *self);
    assert (self);
    self->endpoint = strdup (endpoint);
    assert (self->endpoint);
    snprintf (self->prefix, sizeof self->prefix, "%d.%llx", (int) getpid (),
              (unsigned long long) ((uintptr_t) self ^ (uint64_t) clock_mono_us ()));
    s_connect (self);
    return self;
}

void
mdp_client_destroy (mdp_client_t **self_p)
{
    mdp_client_t *self = *self_p;
    if (!self)
        return;
    zmq_close (self->socket);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

/* Reads one whole message into frames (up to max; extra frames are dropped). Returns the
   number of frames kept, or -1 when nothing could be read. */
static int
s_recv (mdp_client_t *self, zmq_msg_t *frames, int max)
{
    int count = 0;
    bool more = true;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, self->socket, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&frame);
            break;
        }
        more = zmq_msg_more (&frame);
        if (count < max)
            frames [count++] = frame;
        else
            zmq_msg_close (&frame);
    }
    return count? count: -1;
}

mdp_status_t
mdp_client_call (mdp_client_t *self, const char *service, const void *body, size_t size,
                 int timeout_ms, void **reply, size_t *reply_size)
{
    *reply = NULL;
    *reply_size = 0;
    if (timeout_ms < 0)
        timeout_ms = 0;
    char correlation [64], timeout [16];
    int correlation_size = snprintf (correlation, sizeof correlation, "%s.%llu", self->prefix,
                                     (unsigned long long) ++self->sequence);
    snprintf (timeout, sizeof timeout, "%d", timeout_ms);
    if (zmq_send (self->socket, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        s_connect (self);       /* the pipe is full of requests nobody took: start afresh */
        return MDP_UNAVAILABLE;
    }
    zmq_send (self->socket, MDPC_CLIENT, strlen (MDPC_CLIENT), ZMQ_SNDMORE);
    zmq_send (self->socket, service, strlen (service), ZMQ_SNDMORE);
    zmq_send (self->socket, timeout, strlen (timeout), ZMQ_SNDMORE);
    zmq_send (self->socket, correlation, correlation_size, ZMQ_SNDMORE);
    zmq_send (self->socket, body, size, 0);

    int64_t until = clock_mono_us () + ((int64_t) timeout_ms + GRACE_MS) * 1000;
    for (;;) {
        int64_t left_us = until - clock_mono_us ();
        if (left_us <= 0)
            break;
        zmq_pollitem_t items [] = { { self->socket, 0, ZMQ_POLLIN, 0 } };
        if (zmq_poll (items, 1, (long) (left_us + 999) / 1000) == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (!(items [0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t frames [5];
        int count = s_recv (self, frames, 5);
        if (count == -1)
            continue;
        bool ours = count == 5
            && zmq_msg_size (&frames [0]) == 0
            && zmq_msg_size (&frames [1]) == strlen (MDPC_CLIENT)
            && memcmp (zmq_msg_data (&frames [1]), MDPC_CLIENT, strlen (MDPC_CLIENT)) == 0
            && zmq_msg_size (&frames [2]) == (size_t) correlation_size
            && memcmp (zmq_msg_data (&frames [2]), correlation, correlation_size) == 0
            && zmq_msg_size (&frames [3]) == 1;
        mdp_status_t status = MDP_UNAVAILABLE;
        if (ours) {
            status = (mdp_status_t) *(unsigned char *) zmq_msg_data (&frames [3]);
            if (status == MDP_OK) {
                *reply_size = zmq_msg_size (&frames [4]);
                *reply = malloc (*reply_size + 1);
                assert (*reply);
                memcpy (*reply, zmq_msg_data (&frames [4]), *reply_size);
                ((char *) *reply) [*reply_size] = 0;
            }
        }
        for (int i = 0; i < count; i++)
            zmq_msg_close (&frames [i]);
        if (ours)
            return status;
        /* else a late answer to an earlier call, or noise: keep waiting for ours */
    }
    /* No answer, not even the broker's timeout: it is gone or restarted. A new socket drops
       whatever is still queued on the old one. */
    log_warn ("no answer from the broker at '%s' for '%s' within %d ms, reconnecting",
              self->endpoint, service, timeout_ms + GRACE_MS);
    s_connect (self);
    return MDP_TIMEOUT;
}
