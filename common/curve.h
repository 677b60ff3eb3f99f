/* curve.h - CurveZMQ on broker connections: every connection to the broker is encrypted, and
   the broker lets in only keys on its list, each key naming the service it belongs to */
#ifndef KAIIN_CURVE_H
#define KAIIN_CURVE_H
#include <stdbool.h>

/* A process that connects to the broker (a service's workers and clients) reads its settings
   once, at start-up: KAIIN_CURVE_SECRET_KEY (or _FILE, the Docker secrets convention: a file
   only its owner may read), its own secret key, and KAIIN_BROKER_PUBLIC_KEY (or _FILE), the
   broker's; Z85, 40 characters each. Neither set: plain connections, with a warning (tests of the transport
   alone). Returns 0, or -1 (logged) when one is missing or is not a key. */
int curve_client_init (void);

/* Makes socket a CURVE client of the broker, when curve_client_init found keys. Call before
   connecting. */
void curve_client_apply (void *socket);

/* The broker's side. */
typedef struct _curve_server_t curve_server_t;

/* Makes the broker's socket a CURVE server with KAIIN_BROKER_SECRET_KEY (or _FILE), and starts
   the ZAP handler in context: it admits a connection only when its key is listed in
   KAIIN_BROKER_CLIENTS_FILE, lines of "<service> <public key>" (lines starting with # are
   comments; two keys of one service during a rotation), reread whenever the file changes.
   Call before binding. Neither setting: *server stays NULL and connections are plain
   (warned). Returns 0, or -1 (logged). */
int curve_server_start (void *context, void *socket, curve_server_t **server);

/* Stops the ZAP handler and frees it. Nothing when *server_p is NULL. */
void curve_server_stop (curve_server_t **server_p);

/* True when a peer authenticated as user (the service its key is listed for) may register
   workers for service: its own ("member"), or one of its methods ("member.Get"). */
bool curve_may_serve (const char *user, const char *service);

#endif
