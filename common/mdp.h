/* mdp.h - Kaiin's Majordomo worker and client protocols (zguide MDP/0.1, rfc 7) constants */
#ifndef KAIIN_MDP_H
#define KAIIN_MDP_H

/* Every frame sequence between a worker (DEALER) and the broker (ROUTER) is
   ["", MDPW_WORKER, command, ...]:
     READY      worker → broker   service name, instance label ("host:pid"), and optionally
                                  its credit: how many requests it may hold at once (decimal
                                  text, 1 to MDP_MAX_CREDIT; 1 when not sent)
     REQUEST    broker → worker   client address, "", body
     REPLY      worker → broker   client address, "", body
     HEARTBEAT  both ways         nothing
     DISCONNECT both ways         nothing                                        */
#define MDPW_WORKER      "MDPW01"
#define MDPW_READY       "\001"
#define MDPW_REQUEST     "\002"
#define MDPW_REPLY       "\003"
#define MDPW_HEARTBEAT   "\004"
#define MDPW_DISCONNECT  "\005"
#define MDP_MAX_CREDIT   16
/* The longest service or method name a worker may register as ("member.MemberAuthLogin"),
   with its terminating NUL. */
#define MDP_NAME_MAX     64

/* A client (DEALER) talks to the broker (ROUTER) without heartbeats, one request at a time:
     request  client → broker   "", MDPC_CLIENT, service or "<service>.<Method>" (to the
                                method's own workers when it has some, else the service's),
                                timeout_ms (decimal text), correlation id, body
     answer   broker → client   "", MDPC_CLIENT, correlation id, status byte (mdp_status_t),
                                body (the worker's reply when the status is MDP_OK, else empty)
   The broker answers every request once, at the latest when the timeout has passed. */
#define MDPC_CLIENT      "MDPC01"

/* Heartbeats go both ways every MDP_HEARTBEAT_MS; a peer silent for MDP_LIVENESS beats is dead.
   A worker waits longer before it gives its socket up for a new one (MDP_WORKER_PATIENCE_MS):
   its socket reconnects to a broker that comes back by itself, and that broker, not knowing it,
   answers its beats with DISCONNECT, upon which it says READY again; a new socket made just as
   the broker came back would leave it a registration of the old one, and the requests sent there
   would be lost. */
#define MDP_HEARTBEAT_MS 200
#define MDP_LIVENESS     3
#define MDP_WORKER_PATIENCE_MS 5000

/* How a request ended, as the broker tells it (a client gets it as its answer's status byte). */
typedef enum {
    MDP_OK,             /* the worker replied: data holds its reply */
    MDP_UNAVAILABLE,    /* no live worker of the service */
    MDP_TIMEOUT,        /* the deadline passed first */
    MDP_SHUTDOWN,       /* the broker is stopping */
    MDP_LOST            /* the worker holding it died: it may or may not have been done */
} mdp_status_t;

#endif
