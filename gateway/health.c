/* health.c - background checks of PostgreSQL and Redis, so /readyz answers without waiting */
#include "health.h"
#include "session.h"
#include "log.h"
#include <hiredis.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_t s_thread;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile bool s_stopping;
static bool s_started;
static char s_pg_url [512];
static char s_pg_verdict [128] = "not checked yet", s_redis_verdict [128] = "not checked yet";

static void
s_check_postgresql (char *verdict, size_t size)
{
    char url [600];
    snprintf (url, sizeof url, "%s%sconnect_timeout=2", s_pg_url, strchr (s_pg_url, '?')? "&": "?");
    PGPing ping = PQping (url);
    snprintf (verdict, size, "%s", ping == PQPING_OK? "ok"
            : ping == PQPING_REJECT? "rejecting connections (starting or stopping)"
            : ping == PQPING_NO_RESPONSE? "not reachable": "bad connection settings");
}

static void
s_check_redis (char *verdict, size_t size)
{
    struct timeval timeout = { 0, 500 * 1000 };
    redisContext *redis = session_redis_connect (timeout, verdict, size);
    if (!redis)
        return;
    redisReply *reply = redisCommand (redis, "PING");
    bool ok = reply && reply->type == REDIS_REPLY_STATUS && strcmp (reply->str, "PONG") == 0;
    snprintf (verdict, size, "%s", ok? "ok": "not answering PING");
    freeReplyObject (reply);
    redisFree (redis);
}

static void *
s_health_thread (void *arg)
{
    (void) arg;
    while (!s_stopping) {
        char pg [128], redis [128];
        s_check_postgresql (pg, sizeof pg);
        s_check_redis (redis, sizeof redis);
        pthread_mutex_lock (&s_lock);
        if (strcmp (pg, s_pg_verdict) != 0)
            log_info ("postgresql: %s", pg);
        if (strcmp (redis, s_redis_verdict) != 0)
            log_info ("redis: %s", redis);
        memcpy (s_pg_verdict, pg, sizeof pg);
        memcpy (s_redis_verdict, redis, sizeof redis);
        pthread_mutex_unlock (&s_lock);
        for (int i = 0; i < 10 && !s_stopping; i++)
            usleep (50 * 1000);
    }
    return NULL;
}

void
health_start (const char *pg_url)
{
    snprintf (s_pg_url, sizeof s_pg_url, "%s", pg_url);
    s_started = pthread_create (&s_thread, NULL, s_health_thread, NULL) == 0;
}

void
health_stop (void)
{
    s_stopping = true;
    if (s_started)
        pthread_join (s_thread, NULL);
    s_started = false;
}

static bool
s_verdict (const char *source, char *buf, int size)
{
    pthread_mutex_lock (&s_lock);
    snprintf (buf, size, "%s", source);
    pthread_mutex_unlock (&s_lock);
    return strcmp (buf, "ok") == 0;
}

bool
health_postgresql (char *buf, int size)
{
    return s_verdict (s_pg_verdict, buf, size);
}

bool
health_redis (char *buf, int size)
{
    return s_verdict (s_redis_verdict, buf, size);
}
