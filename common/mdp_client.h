/* mdp_client.h - the client side of Majordomo (MDPC01): a blocking request-reply to a service
   through the broker, for one thread at a time */
#ifndef KAIIN_MDP_CLIENT_H
#define KAIIN_MDP_CLIENT_H
#include "mdp.h"
#include <stddef.h>

typedef struct _mdp_client_t mdp_client_t;

/* Connects to the broker at endpoint ("tcp://127.0.0.1:5555"); connecting happens in the
   background, so this is never NULL. A client belongs to one thread at a time. */
mdp_client_t *mdp_client_new (const char *endpoint);

/* Closes the connection and frees the client. Nothing when *self_p is NULL. */
void mdp_client_destroy (mdp_client_t **self_p);

/* Sends body to service and waits for the broker's answer, at most timeout_ms (plus a short
   grace for the answer to travel). On MDP_OK, *reply is the worker's reply, which the caller
   frees, and *reply_size its size; on any other status *reply is NULL. Answers to earlier
   calls that arrive late are recognised by their correlation id and dropped. When no answer
   comes at all (the broker is down or restarted) the call returns MDP_TIMEOUT and the client
   reconnects on a new socket, so nothing stale is waiting on the next call. */
mdp_status_t mdp_client_call (mdp_client_t *self, const char *service, const void *body,
                              size_t size, int timeout_ms, void **reply, size_t *reply_size);

#endif
