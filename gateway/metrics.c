/* metrics.c - Prometheus counters and histograms of the gateway's traffic */
#include "metrics.h"
#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 160
static const unsigned int s_statuses [] = {
    200, 201, 204, 400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 429, 499,
    500, 501, 502, 503, 504
};
#define STATUS_SLOTS (sizeof s_statuses / sizeof s_statuses [0] + 1)   /* + "other" */
static const double s_bounds [] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define BUCKETS (sizeof s_bounds / sizeof s_bounds [0])

typedef struct {
    uint64_t by_status [STATUS_SLOTS];
    uint64_t buckets [BUCKETS];       /* cumulative at render time, per-bucket here */
    uint64_t count;
    uint64_t sum_us;
} route_stats_t;

static const char *s_methods [MAX_ROUTES];
static const char *s_patterns [MAX_ROUTES];
static int s_route_count;                           /* atomic: grows as services announce */
static int s_static_count;                          /* the gateway's own routes, first */
static pthread_mutex_t s_routes_lock = PTHREAD_MUTEX_INITIALIZER;
static route_stats_t s_routes [MAX_ROUTES + 1];     /* the last one: unmatched */

void
metrics_init (const char *const *methods, const char *const *patterns, int count)
{
    assert (count <= MAX_ROUTES);
    for (int i = 0; i < count; i++) {
        s_methods [i] = methods [i];
        s_patterns [i] = patterns [i];
    }
    s_static_count = count;
    __atomic_store_n (&s_route_count, count, __ATOMIC_RELEASE);
}

int
metrics_route (const char *method, const char *pattern)
{
    int count = __atomic_load_n (&s_route_count, __ATOMIC_ACQUIRE);
    for (int i = s_static_count; i < count; i++)
        if (strcmp (s_patterns [i], pattern) == 0 && strcmp (s_methods [i], method) == 0)
            return i;
    pthread_mutex_lock (&s_routes_lock);
    int route = s_route_count;
    for (int i = count; i < s_route_count; i++)     /* added meanwhile */
        if (strcmp (s_patterns [i], pattern) == 0 && strcmp (s_methods [i], method) == 0)
            route = i;
    if (route == s_route_count && route < MAX_ROUTES) {
        s_methods [route] = strdup (method);
        s_patterns [route] = strdup (pattern);
        assert (s_methods [route] && s_patterns [route]);
        __atomic_store_n (&s_route_count, route + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock (&s_routes_lock);
    return route < MAX_ROUTES? route: -1;
}

const char *
metrics_route_pattern (int route)
{
    int count = __atomic_load_n (&s_route_count, __ATOMIC_ACQUIRE);
    return route >= 0 && route < count? s_patterns [route]: "unmatched";
}

void
metrics_observe (int route, const char *method, unsigned int status, int64_t elapsed_us)
{
    (void) method;
    int count = __atomic_load_n (&s_route_count, __ATOMIC_ACQUIRE);
    route_stats_t *stats = &s_routes [route >= 0 && route < count? route: MAX_ROUTES];
    size_t slot = 0;
    while (slot < STATUS_SLOTS - 1 && s_statuses [slot] != status)
        slot++;
    __atomic_fetch_add (&stats->by_status [slot], 1, __ATOMIC_RELAXED);
    size_t bucket = 0;
    while (bucket < BUCKETS && elapsed_us > s_bounds [bucket] * 1e6)
        bucket++;
    if (bucket < BUCKETS)
        __atomic_fetch_add (&stats->buckets [bucket], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add (&stats->count, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add (&stats->sum_us, (uint64_t) elapsed_us, __ATOMIC_RELAXED);
}

typedef struct {
    char *text;
    size_t size, used;
} buffer_t;

static void __attribute__ ((format (printf, 2, 3)))
s_append (buffer_t *buffer, const char *fmt, ...)
{
    while (true) {
        va_list args;
        va_start (args, fmt);
        int written = vsnprintf (buffer->text + buffer->used, buffer->size - buffer->used, fmt, args);
        va_end (args);
        if (written >= 0 && (size_t) written < buffer->size - buffer->used) {
            buffer->used += written;
            return;
        }
        buffer->size *= 2;
        buffer->text = realloc (buffer->text, buffer->size);
        assert (buffer->text);
    }
}

static void
s_append_requests (void *arg, const char *service, const char *instance, int workers,
                   uint64_t requests)
{
    (void) workers;
    s_append (arg, "kaiin_broker_requests_total{service=\"%s\",instance=\"%s\"} %llu\n",
              service, instance, (unsigned long long) requests);
}

static void
s_append_workers (void *arg, const char *service, const char *instance, int workers,
                  uint64_t requests)
{
    (void) requests;
    s_append (arg, "kaiin_broker_instance_workers{service=\"%s\",instance=\"%s\"} %d\n",
              service, instance, workers);
}

typedef struct {
    buffer_t *buffer;
    char seen [64][32];
    int seen_count;
    mdp_broker_t *broker;
} services_t;

static void
s_append_service (void *arg, const char *service, const char *instance, int workers,
                  uint64_t requests)
{
    (void) instance;
    (void) workers;
    (void) requests;
    services_t *services = arg;
    for (int i = 0; i < services->seen_count; i++)
        if (strcmp (services->seen [i], service) == 0)
            return;
    if (services->seen_count < 64)
        snprintf (services->seen [services->seen_count++], sizeof services->seen [0], "%s", service);
}

char *
metrics_render (mdp_broker_t *broker, int in_flight, size_t body_bytes)
{
    int routes = __atomic_load_n (&s_route_count, __ATOMIC_ACQUIRE);
    buffer_t buffer = { malloc (16384), 16384, 0 };
    assert (buffer.text);
    s_append (&buffer, "# HELP kaiin_http_requests_total HTTP requests by route and status.\n"
                       "# TYPE kaiin_http_requests_total counter\n");
    for (int route = 0; route <= routes; route++) {
        route_stats_t *stats = &s_routes [route == routes? MAX_ROUTES: route];
        const char *method = route < routes? s_methods [route]: "";
        const char *pattern = route < routes? s_patterns [route]: "unmatched";
        for (size_t slot = 0; slot < STATUS_SLOTS; slot++) {
            uint64_t count = __atomic_load_n (&stats->by_status [slot], __ATOMIC_RELAXED);
            if (!count)
                continue;
            char status [8];
            if (slot < STATUS_SLOTS - 1)
                snprintf (status, sizeof status, "%u", s_statuses [slot]);
            else
                snprintf (status, sizeof status, "other");
            s_append (&buffer, "kaiin_http_requests_total{method=\"%s\",route=\"%s\",status=\"%s\"} %llu\n",
                      method, pattern, status, (unsigned long long) count);
        }
    }
    s_append (&buffer, "# HELP kaiin_http_request_duration_seconds Time from request to response.\n"
                       "# TYPE kaiin_http_request_duration_seconds histogram\n");
    for (int route = 0; route <= routes; route++) {
        route_stats_t *stats = &s_routes [route == routes? MAX_ROUTES: route];
        uint64_t count = __atomic_load_n (&stats->count, __ATOMIC_RELAXED);
        if (!count)
            continue;
        const char *method = route < routes? s_methods [route]: "";
        const char *pattern = route < routes? s_patterns [route]: "unmatched";
        uint64_t cumulative = 0;
        for (size_t bucket = 0; bucket < BUCKETS; bucket++) {
            cumulative += __atomic_load_n (&stats->buckets [bucket], __ATOMIC_RELAXED);
            s_append (&buffer, "kaiin_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %llu\n",
                      method, pattern, s_bounds [bucket], (unsigned long long) cumulative);
        }
        s_append (&buffer, "kaiin_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n",
                  method, pattern, (unsigned long long) count);
        s_append (&buffer, "kaiin_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n",
                  method, pattern, __atomic_load_n (&stats->sum_us, __ATOMIC_RELAXED) / 1e6);
        s_append (&buffer, "kaiin_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
                  method, pattern, (unsigned long long) count);
    }
    s_append (&buffer, "# HELP kaiin_http_requests_in_flight Requests being served now.\n"
                       "# TYPE kaiin_http_requests_in_flight gauge\n"
                       "kaiin_http_requests_in_flight %d\n", in_flight);
    s_append (&buffer, "# HELP kaiin_http_request_body_bytes Bytes of request bodies held now by the requests in flight.\n"
                       "# TYPE kaiin_http_request_body_bytes gauge\n"
                       "kaiin_http_request_body_bytes %zu\n", body_bytes);

    services_t services = { .buffer = &buffer, .broker = broker };
    mdp_broker_stats (broker, s_append_service, &services);
    s_append (&buffer, "# HELP kaiin_broker_workers Live workers per service.\n"
                       "# TYPE kaiin_broker_workers gauge\n");
    for (int i = 0; i < services.seen_count; i++)
        s_append (&buffer, "kaiin_broker_workers{service=\"%s\"} %d\n", services.seen [i],
                  mdp_broker_workers (broker, services.seen [i]));
    s_append (&buffer, "# HELP kaiin_broker_queued Requests waiting for a worker of each service.\n"
                       "# TYPE kaiin_broker_queued gauge\n");
    for (int i = 0; i < services.seen_count; i++)
        s_append (&buffer, "kaiin_broker_queued{service=\"%s\"} %d\n", services.seen [i],
                  mdp_broker_queued (broker, services.seen [i]));
    s_append (&buffer, "# HELP kaiin_broker_requests_total Requests handed to each service process.\n"
                       "# TYPE kaiin_broker_requests_total counter\n");
    mdp_broker_stats (broker, s_append_requests, &buffer);
    s_append (&buffer, "# HELP kaiin_broker_instance_workers Live workers of each service process.\n"
                       "# TYPE kaiin_broker_instance_workers gauge\n");
    mdp_broker_stats (broker, s_append_workers, &buffer);
    return buffer.text;
}
