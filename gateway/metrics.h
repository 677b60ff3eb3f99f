/* metrics.h - Prometheus counters and histograms of the gateway's traffic */
#ifndef KAIIN_METRICS_H
#define KAIIN_METRICS_H
#include "mdp_broker.h"
#include <stdint.h>

/* Names the routes (borrowed, e.g. "GET /v1/members/{id}" as method and pattern pairs). */
void metrics_init (const char *const *methods, const char *const *patterns, int count);

/* The index (for metrics_observe) of a route a service announced, named on first sight
   (copied), or -1 past the table's room (it is then counted as unmatched). Any thread. */
int metrics_route (const char *method, const char *pattern);

/* The pattern of route ("/v1/members/{id}": never an id), or "unmatched". Any thread. */
const char *metrics_route_pattern (int route);

/* Counts one finished request (any thread). route -1 is "unmatched". */
void metrics_observe (int route, const char *method, unsigned int status, int64_t elapsed_us);

/* Returns the Prometheus text exposition; the caller frees it. */
char *metrics_render (mdp_broker_t *broker, int in_flight, size_t body_bytes);

#endif
