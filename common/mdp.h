/* mdp.h - Kaiin's Majordomo worker protocol (zguide MDP/0.1, rfc 7) constants */
#ifndef KAIIN_MDP_H
#define KAIIN_MDP_H

/* Every frame sequence between a worker (DEALER) and the broker (ROUTER) is
   ["", MDPW_WORKER, command, ...]:
     READY      worker → broker   service name, instance label ("host:pid")
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

/* Heartbeats go both ways every MDP_HEARTBEAT_MS; a peer silent for MDP_LIVENESS beats is dead. */
#define MDP_HEARTBEAT_MS 200
#define MDP_LIVENESS     3

#endif
