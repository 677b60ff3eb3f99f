/* test_mdp.c - the Majordomo broker and worker over real ZeroMQ sockets in one process */
#include "check.h"
#include "clock.h"
#include "curve.h"
#include "mdp_broker.h"
#include "mdp_client.h"
#include "mdp_worker.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

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
    int delay_ms;                   /* how long each request takes (a batch, with credit) */
    int credit;                     /* 0: one request at a time */
    const char *service;            /* NULL: "echo" */
    char label [16];
    atomic_int served;
    atomic_int most_held;           /* the most requests it had in hand at once */
} echo_t;

static void *
s_echo_worker (void *arg)
{
    echo_t *echo = arg;
    int credit = echo->credit? echo->credit: 1;
    mdp_worker_t *worker = mdp_worker_new (ENDPOINT, echo->service? echo->service: "echo", echo->label,
                                           credit, NULL, 0, &echo->stop);
    size_t sizes [MDP_MAX_CREDIT];
    void *bodies [MDP_MAX_CREDIT];
    mdp_address_t from [MDP_MAX_CREDIT];
    while ((bodies [0] = mdp_worker_recv (worker, &sizes [0], &from [0]))) {
        /* With credit, whatever else has arrived is served with it; replies go last first. */
        int held = 1;
        usleep (echo->delay_ms * 1000);
        while (held < credit && (bodies [held] = mdp_worker_recv_ready (worker, &sizes [held], &from [held])))
            held++;
        if (held > atomic_load (&echo->most_held))
            atomic_store (&echo->most_held, held);
        for (int i = held - 1; i >= 0; i--) {
            char reply [64];
            int length = snprintf (reply, sizeof reply, "%s:%.*s", echo->label, (int) sizes [i], (char *) bodies [i]);
            mdp_worker_reply (worker, &from [i], reply, length);
            atomic_fetch_add (&echo->served, 1);
            free (bodies [i]);
        }
    }
    mdp_worker_destroy (&worker);
    return NULL;
}

static void
s_wait_service_workers (mdp_broker_t *broker, const char *service, int count)
{
    for (int i = 0; i < 200 && mdp_broker_workers (broker, service) != count; i++)
        usleep (10000);
}

static void
s_wait_workers (mdp_broker_t *broker, int count)
{
    s_wait_service_workers (broker, "echo", count);
}

/* The one request outcome holds is still unanswered; a worker (labelled as expected's
   prefix) comes back and serves it, answering expected, then leaves. */
static void
s_served_on_return (mdp_broker_t *broker, outcome_t *outcome, const char *expected)
{
    CHECK (outcome->replies == 0);
    echo_t back = { .label = "" };
    snprintf (back.label, sizeof back.label, "%.*s", (int) strcspn (expected, ":"), expected);
    pthread_t thread;
    pthread_create (&thread, NULL, s_echo_worker, &back);
    CHECK (s_wait (outcome, 1, 2000) == 1 && outcome->status [0] == MDP_OK
           && strcmp (outcome->data [0], expected) == 0);
    back.stop = 1;
    pthread_join (thread, NULL);
    s_wait_workers (broker, 0);
}

/* A worker that says READY for service with credit, and nothing more (its test closes it). */
static void *
s_raw_worker (void *context, const char *service, const char *credit)
{
    void *dealer = zmq_socket (context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect (dealer, ENDPOINT);
    const char *frames [] = { "", MDPW_WORKER, MDPW_READY, service, "raw", credit };
    for (int i = 0; i < 6; i++)
        zmq_send (dealer, frames [i], strlen (frames [i]), i < 5? ZMQ_SNDMORE: 0);
    return dealer;
}

/* A method's worker and its service's die together while a request waits for the method's
   worker: the heartbeat drops the method's, the waiting request goes to the service, whose
   worker is found dead in turn and dropped within the same heartbeat; the one held is answered
   LOST (it may have been done), the one waiting UNAVAILABLE once no worker came back within
   the grace, and the broker goes on (it once read the freed worker there). */
static void
s_test_dead_together (mdp_broker_t *broker)
{
    void *context = zmq_ctx_new ();
    void *parent = s_raw_worker (context, "dead", "1");
    s_wait_service_workers (broker, "dead", 1);
    void *method = s_raw_worker (context, "dead.Get", "1");
    s_wait_service_workers (broker, "dead.Get", 1);
    CHECK (mdp_broker_workers (broker, "dead") == 1 && mdp_broker_workers (broker, "dead.Get") == 1);
    outcome_t outcome = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };
    mdp_broker_submit (broker, "dead", "dead.Get", "a", 1, clock_mono_us () + 5000000, s_on_reply, &outcome);
    mdp_broker_submit (broker, "dead", "dead.Get", "b", 1, clock_mono_us () + 5000000, s_on_reply, &outcome);
    usleep (100000);                    /* "a" held by the method's worker, "b" queued for it */
    zmq_close (method);
    zmq_close (parent);
    CHECK (s_wait (&outcome, 2, 5000) == 2);
    CHECK (outcome.status [0] == MDP_LOST && outcome.status [1] == MDP_UNAVAILABLE);
    s_wait_service_workers (broker, "dead", 0);
    CHECK (mdp_broker_workers (broker, "dead") == 0 && mdp_broker_workers (broker, "dead.Get") == 0);
    zmq_ctx_term (context);
}

/* A stand-in broker for the client's own rules: it answers the first request with a stale
   answer (another correlation id) before the real one, and leaves the second unanswered. */
typedef struct {
    char endpoint [64];
    void *context;
    void *router;
    int requests;
} fake_t;

static void *
s_fake_broker (void *arg)
{
    fake_t *fake = arg;
    for (int served = 0; served < 3; served++) {
        zmq_msg_t frames [7];
        int count = 0;
        bool more = true;
        while (more && count < 7) {
            zmq_msg_init (&frames [count]);
            if (zmq_msg_recv (&frames [count], fake->router, 0) == -1) {
                zmq_msg_close (&frames [count]);
                return NULL;
            }
            more = zmq_msg_more (&frames [count++]);
        }
        fake->requests++;
        if (count == 7 && served != 1) {
            unsigned char ok = MDP_OK;
            const char *answers [] = { "bogus-id", "stale", NULL, "fresh" };
            for (int i = served == 0? 0: 2; i < 4; i += 2) {
                zmq_send (fake->router, zmq_msg_data (&frames [0]), zmq_msg_size (&frames [0]), ZMQ_SNDMORE);
                zmq_send (fake->router, "", 0, ZMQ_SNDMORE);
                zmq_send (fake->router, "MDPC01", 6, ZMQ_SNDMORE);
                if (answers [i])
                    zmq_send (fake->router, answers [i], strlen (answers [i]), ZMQ_SNDMORE);
                else
                    zmq_send (fake->router, zmq_msg_data (&frames [5]), zmq_msg_size (&frames [5]), ZMQ_SNDMORE);
                zmq_send (fake->router, &ok, 1, ZMQ_SNDMORE);
                zmq_send (fake->router, answers [i + 1], strlen (answers [i + 1]), 0);
            }
        }
        for (int i = 0; i < count; i++)
            zmq_msg_close (&frames [i]);
    }
    return NULL;
}

static void
s_test_client_rules (void)
{
    fake_t fake = { .context = zmq_ctx_new () };
    fake.router = zmq_socket (fake.context, ZMQ_ROUTER);
    int bound = -1;
    for (int attempt = 0; attempt < 20 && bound == -1; attempt++) {
        snprintf (fake.endpoint, sizeof fake.endpoint, "tcp://127.0.0.1:%d",
                  20000 + (int) ((getpid () + 101 + attempt * 7919) % 30000));
        bound = zmq_bind (fake.router, fake.endpoint);
    }
    CHECK (bound == 0);
    pthread_t thread;
    pthread_create (&thread, NULL, s_fake_broker, &fake);
    mdp_client_t *client = mdp_client_new (fake.endpoint);
    void *reply;
    size_t size;
    /* A stale answer (another correlation id) is dropped; the call returns its own. */
    CHECK (mdp_client_call (client, "echo", "a", 1, 2000, &reply, &size) == MDP_OK);
    CHECK (reply && size == 5 && memcmp (reply, "fresh", 5) == 0);
    free (reply);
    /* No answer at all: MDP_TIMEOUT after the timeout and its grace, and a new socket. */
    int64_t started = clock_mono_us ();
    CHECK (mdp_client_call (client, "echo", "b", 1, 100, &reply, &size) == MDP_TIMEOUT);
    CHECK (reply == NULL);
    CHECK (clock_mono_us () - started >= 100000 && clock_mono_us () - started < 3000000);
    /* The reconnected client is answered again. */
    CHECK (mdp_client_call (client, "echo", "c", 1, 2000, &reply, &size) == MDP_OK);
    CHECK (reply && size == 5 && memcmp (reply, "fresh", 5) == 0);
    free (reply);
    pthread_join (thread, NULL);
    CHECK (fake.requests == 3);
    mdp_client_destroy (&client);
    CHECK (client == NULL);
    mdp_client_destroy (&client);
    zmq_close (fake.router);
    zmq_ctx_term (fake.context);
}

/* Sends a ZAP request of the given frames to the broker's handler and reads the answer's
   status code and user id. */
static void
s_zap_ask (void *context, const char *frames [], int count, const void *key, char status [4],
           char user [32])
{
    void *req = zmq_socket (context, ZMQ_REQ);
    zmq_connect (req, "inproc://zeromq.zap.01");
    for (int i = 0; i < count; i++) {
        const void *data = frames [i] == NULL? key: frames [i];
        zmq_send (req, data, frames [i] == NULL? 32: strlen (frames [i]), i + 1 < count? ZMQ_SNDMORE: 0);
    }
    char reply [6][64] = { { 0 } };
    int timeout = 2000;
    zmq_setsockopt (req, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    for (int i = 0; i < 6; i++) {
        int size = zmq_recv (req, reply [i], sizeof reply [i] - 1, 0);
        if (size >= 0)
            reply [i][size < 63? size: 63] = 0;
    }
    snprintf (status, 4, "%.3s", reply [2]);
    snprintf (user, 32, "%.31s", reply [4]);
    zmq_close (req);
}

/* The broker's ZAP handler: a listed key is admitted as its service, another refused. */
static void
s_test_zap (void)
{
    char public [41], secret [41], broker_public [41], broker_secret [41];
    zmq_curve_keypair (public, secret);
    zmq_curve_keypair (broker_public, broker_secret);
    uint8_t key [32], stranger [32] = { 1 };
    zmq_z85_decode (key, public);
    char path [] = "/tmp/kaiin-zap-XXXXXX";
    int fd = mkstemp (path);
    dprintf (fd, "# the test's clients\nmember %s\n", public);
    close (fd);
    setenv ("KAIIN_BROKER_SECRET_KEY", broker_secret, 1);
    setenv ("KAIIN_BROKER_CLIENTS_FILE", path, 1);

    void *context = zmq_ctx_new ();
    void *router = zmq_socket (context, ZMQ_ROUTER);
    curve_server_t *server = NULL;
    CHECK (curve_server_start (context, router, &server) == 0 && server != NULL);
    char status [4], user [32];
    const char *curve [] = { "1.0", "7", "", "127.0.0.1", "", "CURVE", NULL };
    s_zap_ask (context, curve, 7, key, status, user);
    CHECK (strcmp (status, "200") == 0 && strcmp (user, "member") == 0);
    s_zap_ask (context, curve, 7, stranger, status, user);
    CHECK (strcmp (status, "400") == 0 && strcmp (user, "") == 0);
    s_zap_ask (context, curve, 7, key, status, user);
    CHECK (strcmp (status, "200") == 0);

    curve_server_stop (&server);
    CHECK (server == NULL);
    zmq_close (router);
    zmq_ctx_term (context);
    unlink (path);
    unsetenv ("KAIIN_BROKER_SECRET_KEY");
    unsetenv ("KAIIN_BROKER_CLIENTS_FILE");
}

/* A client's keys from files (compose's secrets): the broker's public key by its _FILE too. */
static void
s_test_client_keys (void)
{
    char public [41], secret [41], broker_public [41], broker_secret [41];
    zmq_curve_keypair (public, secret);
    zmq_curve_keypair (broker_public, broker_secret);
    char secret_path [] = "/tmp/kaiin-key-XXXXXX", broker_path [] = "/tmp/kaiin-pub-XXXXXX";
    int fd = mkstemp (secret_path);                     /* mode 0600 */
    dprintf (fd, "%s", secret);
    close (fd);
    fd = mkstemp (broker_path);
    dprintf (fd, "%s\n", broker_public);
    close (fd);
    setenv ("KAIIN_CURVE_SECRET_KEY_FILE", secret_path, 1);
    setenv ("KAIIN_BROKER_PUBLIC_KEY_FILE", broker_path, 1);
    CHECK (curve_client_init () == 0);
    fd = open (broker_path, O_WRONLY | O_TRUNC);
    dprintf (fd, "not a key\n");
    close (fd);
    CHECK (curve_client_init () == -1);
    unlink (secret_path);
    unlink (broker_path);
    unsetenv ("KAIIN_CURVE_SECRET_KEY_FILE");
    unsetenv ("KAIIN_BROKER_PUBLIC_KEY_FILE");
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
    mdp_broker_submit (broker, "echo", NULL, "x", 1, clock_mono_us () + 5000000, s_on_reply, &outcome);
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
        mdp_broker_submit (broker, "echo", NULL, "hi", 2, clock_mono_us () + 5000000, s_on_reply, &outcome);
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
    mdp_broker_submit (broker, "echo", NULL, "slow", 4, clock_mono_us () + 100000, s_on_reply, &outcome);
    CHECK (s_wait (&outcome, 1, 2000) == 1);
    CHECK (outcome.status [0] == MDP_TIMEOUT);
    CHECK (clock_mono_us () - started < 250000);
    usleep (400000);                /* let the late reply arrive and be dropped */
    one.delay_ms = two.delay_ms = 0;

    /* A method with workers of its own ("echo.Get", with credit) goes to them: they hold several
       requests at once, and each reply reaches its own request whatever the order of the
       replies. Other methods go to the service's workers, and so does the method once its own
       workers are gone. */
    one.stop = 1;
    pthread_join (thread_one, NULL);
    s_wait_workers (broker, 1);
    echo_t batch = { .label = "batch", .service = "echo.Get", .credit = 4, .delay_ms = 50 };
    pthread_t thread_batch;
    pthread_create (&thread_batch, NULL, s_echo_worker, &batch);
    for (int i = 0; i < 200 && mdp_broker_workers (broker, "echo.Get") != 1; i++)
        usleep (10000);
    outcome.replies = 0;
    char bodies [12][4];
    for (int i = 0; i < 12; i++) {
        snprintf (bodies [i], sizeof bodies [i], "r%d", i);
        mdp_broker_submit (broker, "echo", "echo.Get", bodies [i], strlen (bodies [i]),
                           clock_mono_us () + 5000000, s_on_reply, &outcome);
    }
    mdp_broker_submit (broker, "echo", "echo.Other", "o", 1, clock_mono_us () + 5000000, s_on_reply, &outcome);
    CHECK (s_wait (&outcome, 13, 5000) == 13);
    int matched = 0;
    for (int i = 0; i < 12; i++) {
        char expected [16];
        snprintf (expected, sizeof expected, "batch:r%d", i);
        for (int j = 0; j < 13; j++)
            matched += outcome.status [j] == MDP_OK && strcmp (outcome.data [j], expected) == 0;
    }
    CHECK (matched == 12);
    int other = 0;
    for (int j = 0; j < 13; j++)
        other += outcome.status [j] == MDP_OK && strcmp (outcome.data [j], "two:o") == 0;
    CHECK (other == 1);
    CHECK (atomic_load (&batch.most_held) > 1 && atomic_load (&batch.most_held) <= 4);
    batch.stop = 1;
    pthread_join (thread_batch, NULL);
    for (int i = 0; i < 200 && mdp_broker_workers (broker, "echo.Get") != 0; i++)
        usleep (10000);
    outcome.replies = 0;
    mdp_broker_submit (broker, "echo", "echo.Get", "g", 1, clock_mono_us () + 5000000, s_on_reply, &outcome);
    CHECK (s_wait (&outcome, 1, 2000) == 1 && outcome.status [0] == MDP_OK && strcmp (outcome.data [0], "two:g") == 0);
    two.stop = 1;
    pthread_join (thread_two, NULL);
    s_wait_workers (broker, 0);

    /* Workers that leave say so: the service has none at once. A request that comes just
       after waits for a worker to come back (a restart), and is served by it. */
    CHECK (mdp_broker_workers (broker, "echo") == 0);
    outcome.replies = 0;
    mdp_broker_submit (broker, "echo", NULL, "x", 1, clock_mono_us () + 5000000, s_on_reply, &outcome);
    usleep (300000);
    s_served_on_return (broker, &outcome, "back:x");

    /* A request sent to the last worker as it said DISCONNECT (crossing it) was never started:
       it too waits for a worker to come back, and is served by it. */
    void *context = zmq_ctx_new ();
    void *leaving = s_raw_worker (context, "echo", "1");
    s_wait_workers (broker, 1);
    outcome.replies = 0;
    mdp_broker_submit (broker, "echo", NULL, "y", 1, clock_mono_us () + 5000000, s_on_reply, &outcome);
    usleep (100000);                    /* held by the leaving worker, which never answers */
    const char *bye [] = { "", MDPW_WORKER, MDPW_DISCONNECT };
    for (int i = 0; i < 3; i++)
        zmq_send (leaving, bye [i], strlen (bye [i]), i < 2? ZMQ_SNDMORE: 0);
    s_wait_workers (broker, 0);
    usleep (200000);
    s_served_on_return (broker, &outcome, "again:y");
    zmq_close (leaving);
    zmq_ctx_term (context);

    /* When none comes back within the grace (4 s from the last worker's leaving), the request
       is answered UNAVAILABLE then, and later ones at once. The wait allows for a slow machine
       (a sanitizer build beside other suites); the elapsed time shows it was not at once. */
    outcome.replies = 0;
    started = clock_mono_us ();
    CHECK (mdp_broker_queued (broker, "echo") == 0);
    mdp_broker_submit (broker, "echo", NULL, "x", 1, clock_mono_us () + 5000000, s_on_reply, &outcome);
    mdp_broker_submit (broker, "echo", NULL, "z", 1, clock_mono_us () + 5000000, s_on_reply, &outcome);
    for (int i = 0; i < 100 && mdp_broker_queued (broker, "echo") != 2; i++)
        usleep (10000);
    CHECK (mdp_broker_queued (broker, "echo") == 2);        /* both wait for a worker */
    CHECK (s_wait (&outcome, 2, 8000) == 2 && outcome.status [0] == MDP_UNAVAILABLE
           && outcome.status [1] == MDP_UNAVAILABLE);
    CHECK (clock_mono_us () - started >= 3000000);
    CHECK (mdp_broker_queued (broker, "echo") == 0);

    /* A remote client (MDPC01): no worker → UNAVAILABLE at once. */
    mdp_client_t *client = mdp_client_new (ENDPOINT);
    void *reply;
    size_t reply_size;
    started = clock_mono_us ();
    CHECK (mdp_client_call (client, "echo", "x", 1, 2000, &reply, &reply_size) == MDP_UNAVAILABLE);
    CHECK (reply == NULL && clock_mono_us () - started < 500000);

    /* With a worker: answered, and a slow worker's deadline answers MDP_TIMEOUT; the late
       reply is dropped and the next call gets its own answer. */
    echo_t three = { .label = "three" };
    pthread_t thread_three;
    pthread_create (&thread_three, NULL, s_echo_worker, &three);
    s_wait_workers (broker, 1);
    CHECK (mdp_client_call (client, "echo", "hey", 3, 2000, &reply, &reply_size) == MDP_OK);
    CHECK (reply && reply_size == 9 && memcmp (reply, "three:hey", 9) == 0);
    free (reply);
    three.delay_ms = 300;
    started = clock_mono_us ();
    CHECK (mdp_client_call (client, "echo", "slow", 4, 100, &reply, &reply_size) == MDP_TIMEOUT);
    CHECK (reply == NULL && clock_mono_us () - started < 250000);
    usleep (400000);
    three.delay_ms = 0;
    CHECK (mdp_client_call (client, "echo", "again", 5, 2000, &reply, &reply_size) == MDP_OK);
    CHECK (reply && reply_size == 11 && memcmp (reply, "three:again", 11) == 0);
    free (reply);
    /* An empty body travels too. */
    CHECK (mdp_client_call (client, "echo", "", 0, 2000, &reply, &reply_size) == MDP_OK);
    CHECK (reply && reply_size == 6 && memcmp (reply, "three:", 6) == 0);
    free (reply);
    three.stop = 1;
    pthread_join (thread_three, NULL);
    mdp_client_destroy (&client);

    s_test_client_rules ();
    s_test_zap ();
    s_test_dead_together (broker);

    /* Destroying the broker answers what is pending with MDP_SHUTDOWN. */
    echo_t slow = { .label = "slow", .delay_ms = 500 };
    pthread_t thread_slow;
    pthread_create (&thread_slow, NULL, s_echo_worker, &slow);
    s_wait_workers (broker, 1);
    outcome.replies = 0;
    mdp_broker_submit (broker, "echo", NULL, "x", 1, clock_mono_us () + 5000000, s_on_reply, &outcome);
    usleep (50000);
    mdp_broker_destroy (&broker);
    CHECK (broker == NULL);
    CHECK (outcome.replies == 1 && outcome.status [0] == MDP_SHUTDOWN);
    slow.stop = 1;
    pthread_join (thread_slow, NULL);
    s_test_client_keys ();
    return check_report ("mdp");
}
