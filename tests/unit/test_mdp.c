/* test_mdp.c - the Majordomo broker and worker over real ZeroMQ sockets in one process */
#include "check.h"
#include "clock.h"
#include "mdp_broker.h"
#include "mdp_worker.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A port of this run's own, so that parallel runs on one machine do not meet. */
static char s_endpoint [64];
#define ENDPOINT s_endpoint

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t done;
    int replies;
    mdp_status_t status [64];
    char data [64][32];
} outcome_t;

static void
s_on_reply (void *arg, mdp_status_t status, const void *data, size_t size)
{
    outcome_t *outcome = arg;
    pthread_mutex_lock (&outcome->lock);
    int slot = outcome->replies++;
    outcome->status [slot] = status;
    snprintf (outcome->data [slot], sizeof outcome->data [0], "%.*s", (int) size, (const char *) data);
    pthread_cond_signal (&outcome->done);
    pthread_mutex_unlock (&outcome->lock);
}

/* Waits until outcome has count replies or timeout_ms passes. */
static int
s_wait (outcome_t *outcome, int count, int timeout_ms)
{
    int64_t until = clock_mono_us () + timeout_ms * 1000LL;
    pthread_mutex_lock (&outcome->lock);
    while (outcome->replies < count && clock_mono_us () < until) {
        pthread_mutex_unlock (&outcome->lock);
        usleep (5000);
        pthread_mutex_lock (&outcome->lock);
    }
    int replies = outcome->replies;
    pthread_mutex_unlock (&outcome->lock);
    return replies;
}

typedef struct {
    volatile sig_atomic_t stop;
    int delay_ms;                   /* how long each request takes */
    char label [16];
    atomic_int served;
} echo_t;

static void *
s_echo_worker (void *arg)
{
    echo_t *echo = arg;
    mdp_worker_t *worker = mdp_worker_new (ENDPOINT, "echo", echo->label, &echo->stop);
    size_t size;
    void *body;
    while ((body = mdp_worker_recv (worker, &size))) {
        usleep (echo->delay_ms * 1000);
        char reply [64];
        int length = snprintf (reply, sizeof reply, "%s:%.*s", echo->label, (int) size, (char *) body);
        mdp_worker_reply (worker, reply, length);
        atomic_fetch_add (&echo->served, 1);
        free (body);
    }
    mdp_worker_destroy (&worker);
    return NULL;
}

static void
s_wait_workers (mdp_broker_t *broker, int count)
{
    for (int i = 0; i < 200 && mdp_broker_workers (broker, "echo") != count; i++)
        usleep (10000);
}

int
main (void)
{
    outcome_t outcome = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };
    mdp_broker_t *broker = NULL;
    for (int attempt = 0; attempt < 20 && !broker; attempt++) {
        snprintf (s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%d",
                  20000 + (int) ((getpid () + attempt * 7919) % 30000));
        broker = mdp_broker_new (ENDPOINT);
    }
    CHECK (broker != NULL);

    /* No worker at all: refused at once, not at the deadline. */
    int64_t started = clock_mono_us ();
    mdp_broker_submit (broker, "echo", "x", 1, clock_mono_us () + 5000000, s_on_reply, &outcome);
    CHECK (s_wait (&outcome, 1, 2000) == 1);
    CHECK (outcome.status [0] == MDP_UNAVAILABLE);
    CHECK (clock_mono_us () - started < 500000);

    /* Two workers: requests are answered and spread over both. */
    echo_t one = { .label = "one" }, two = { .label = "two" };
    pthread_t thread_one, thread_two;
    pthread_create (&thread_one, NULL, s_echo_worker, &one);
    pthread_create (&thread_two, NULL, s_echo_worker, &two);
    s_wait_workers (broker, 2);
    CHECK (mdp_broker_workers (broker, "echo") == 2);
    outcome.replies = 0;
    for (int i = 0; i < 20; i++)
        mdp_broker_submit (broker, "echo", "hi", 2, clock_mono_us () + 5000000, s_on_reply, &outcome);
    CHECK (s_wait (&outcome, 20, 5000) == 20);
    int ok = 0;
    for (int i = 0; i < 20; i++)
        ok += outcome.status [i] == MDP_OK && strstr (outcome.data [i], ":hi") != NULL;
    CHECK (ok == 20);
    CHECK (atomic_load (&one.served) > 0 && atomic_load (&two.served) > 0);

    /* A slow worker: the deadline answers first, with MDP_TIMEOUT. */
    one.delay_ms = two.delay_ms = 300;
    outcome.replies = 0;
    started = clock_mono_us ();
    mdp_broker_submit (broker, "echo", "slow", 4, clock_mono_us () + 100000, s_on_reply, &outcome);
    CHECK (s_wait (&outcome, 1, 2000) == 1);
    CHECK (outcome.status [0] == MDP_TIMEOUT);
    CHECK (clock_mono_us () - started < 250000);
    usleep (400000);                /* let the late reply arrive and be dropped */
    one.delay_ms = two.delay_ms = 0;

    /* Workers that leave say so: the service is gone at once, and requests are refused. */
    one.stop = two.stop = 1;
    pthread_join (thread_one, NULL);
    pthread_join (thread_two, NULL);
    s_wait_workers (broker, 0);
    CHECK (mdp_broker_workers (broker, "echo") == 0);
    outcome.replies = 0;
    mdp_broker_submit (broker, "echo", "x", 1, clock_mono_us () + 5000000, s_on_reply, &outcome);
    CHECK (s_wait (&outcome, 1, 2000) == 1 && outcome.status [0] == MDP_UNAVAILABLE);

    /* Destroying the broker answers what is pending with MDP_SHUTDOWN. */
    echo_t slow = { .label = "slow", .delay_ms = 500 };
    pthread_t thread_slow;
    pthread_create (&thread_slow, NULL, s_echo_worker, &slow);
    s_wait_workers (broker, 1);
    outcome.replies = 0;
    mdp_broker_submit (broker, "echo", "x", 1, clock_mono_us () + 5000000, s_on_reply, &outcome);
    usleep (50000);
    mdp_broker_destroy (&broker);
    CHECK (broker == NULL);
    CHECK (outcome.replies == 1 && outcome.status [0] == MDP_SHUTDOWN);
    slow.stop = 1;
    pthread_join (thread_slow, NULL);
    return check_report ("mdp");
}
