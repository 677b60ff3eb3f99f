/* mdp_broker.c - the Majordomo broker: service workers connect out to it, requests go to the
   live workers of their service in turn, each holding up to its credit at once */
#include "mdp_broker.h"
#include "clock.h"
#include "curve.h"
#include "log.h"
#include "mdp.h"
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_FRAMES      8
#define MAX_QUEUED      10000   /* per service: beyond this, requests are refused at once */
#define MAX_INSTANCES   256
#define MAX_CLIENT_TIMEOUT_MS 3600000   /* a client's timeout is clamped to one hour */
/* A service that has just lost its last worker is most often coming back: a process
   restarting, a worker reconnecting after a missed heartbeat, a new broker being rejoined.
   Its requests wait this long for a worker (within their own deadline) before they are
   answered as unavailable; a service gone longer fails them at once. A supervisor's restart
   on a busy 2-core machine took 1.8-2.4 s from the kill to the new process's first worker
   (its start, its database connections and their prepared statements): the grace is about
   twice that, and short of the gateway's 5 s deadline, so that a request none comes for is
   still answered 503 (unavailable), not 504. */
#define REJOIN_GRACE_US 4000000

typedef struct _service_t service_t;
typedef struct _worker_t worker_t;
typedef struct _pending_t pending_t;
typedef struct _instance_t instance_t;

struct _pending_t {
    uint64_t id;
    char service [MDP_NAME_MAX];
    char method [MDP_NAME_MAX];           /* a method with workers of its own goes to them */
    void *body;
    size_t size;
    int64_t deadline_us;
    mdp_reply_fn *fn;
    void *arg;
    worker_t *worker;           /* set while a worker holds it, in its slot */
    int slot;
    pending_t *next;            /* in the inbox, a service's queue, or the dispatched list */
    pending_t *prev;            /* in the dispatched list */
};

struct _instance_t {
    char service [MDP_NAME_MAX];
    char instance [64];
    int workers;
    uint64_t requests;
};

struct _worker_t {
    unsigned char identity [256];
    size_t identity_size;
    service_t *service;
    instance_t *instance;
    int64_t expiry_us;
    int credit;                 /* requests it may hold at once, from its READY (1 if not said) */
    int held;                   /* slots in use: sent and not answered yet */
    struct {
        bool used;
        uint64_t id;
        pending_t *pending;     /* NULL once the request timed out: its late reply is dropped */
    } slots [MDP_MAX_CREDIT];
    bool waiting;               /* in its service's waiting list: it has a free slot */
    bool gone, silent;          /* found dead by the last heartbeat, to be dropped */
    worker_t *next;             /* all workers */
    worker_t *next_waiting;
};

struct _service_t {
    char name [MDP_NAME_MAX];
    int workers;
    worker_t *waiting_head, *waiting_tail;
    pending_t *queue_head, *queue_tail;
    int queued;                 /* written by the broker's thread with atomics: metrics read it */
    int64_t orphaned_us;        /* when its last worker left (0: it has workers, or never had) */
    uint8_t *announced;         /* the latest announcement of its workers (stats_lock) */
    size_t announced_size;
    service_t *next;
};

struct _mdp_broker_t {
    void *context;
    void *router;
    curve_server_t *curve;      /* NULL: plain connections */
    int wakeup_fd;
    pthread_t thread;
    volatile bool stopping;

    pthread_mutex_t inbox_lock;     /* guards inbox and next_id */
    pending_t *inbox_head, *inbox_tail;
    uint64_t next_id;

    pthread_mutex_t stats_lock;     /* guards services' worker counts, announcements and instances */
    uint64_t announcements;         /* atomic: bumped by each new announcement */
    service_t *services;
    worker_t *workers;
    instance_t instances [MAX_INSTANCES];
    int instance_count;

    pending_t *dispatched;          /* broker thread only */
    int64_t heartbeat_at_us;
};

/* Keeps what a worker of service announced in its READY, when it is new (stats_lock held). */
static void
s_announced (mdp_broker_t *self, service_t *service, zmq_msg_t *frame)
{
    size_t size = frame? zmq_msg_size (frame): 0;
    if (size == 0 || (size == service->announced_size
                      && memcmp (service->announced, zmq_msg_data (frame), size) == 0))
        return;
    free (service->announced);
    service->announced = malloc (size);
    assert (service->announced);
    memcpy (service->announced, zmq_msg_data (frame), size);
    service->announced_size = size;
    __atomic_add_fetch (&self->announcements, 1, __ATOMIC_RELEASE);
    log_info ("service '%s' announced its routes (%zu bytes)", service->name, size);
}

static void
s_pending_finish (pending_t **pending_p, mdp_status_t status, const void *data, size_t size)
{
    pending_t *pending = *pending_p;
    pending->fn (pending->arg, status, data, size);
    free (pending->body);
    free (pending);
    *pending_p = NULL;
}

/* Sends frames to a peer; returns -1 when the peer is gone (ROUTER_MANDATORY). */
static int
s_send (mdp_broker_t *self, const void *identity, size_t identity_size, const char *command,
        const void *address, size_t address_size, const void *body, size_t body_size)
{
    int more = command [0] == MDPW_REQUEST [0]? ZMQ_SNDMORE: 0;
    if (zmq_send (self->router, identity, identity_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1)
        return -1;
    zmq_send (self->router, "", 0, ZMQ_SNDMORE);
    zmq_send (self->router, MDPW_WORKER, strlen (MDPW_WORKER), ZMQ_SNDMORE);
    zmq_send (self->router, command, 1, more);
    if (more) {
        zmq_send (self->router, address, address_size, ZMQ_SNDMORE);
        zmq_send (self->router, "", 0, ZMQ_SNDMORE);
        zmq_send (self->router, body, body_size, 0);
    }
    return 0;
}

static service_t *
s_service_require (mdp_broker_t *self, const char *name)
{
    for (service_t *service = self->services; service; service = service->next)
        if (strcmp (service->name, name) == 0)
            return service;
    service_t *service = calloc (1, sizeof *service);
    assert (service);
    snprintf (service->name, sizeof service->name, "%s", name);
    pthread_mutex_lock (&self->stats_lock);
    service->next = self->services;
    self->services = service;
    pthread_mutex_unlock (&self->stats_lock);
    return service;
}

static instance_t *
s_instance_require (mdp_broker_t *self, const char *service, const char *label)
{
    instance_t *free_slot = NULL;
    for (int i = 0; i < self->instance_count; i++) {
        instance_t *instance = &self->instances [i];
        if (strcmp (instance->service, service) == 0 && strcmp (instance->instance, label) == 0)
            return instance;
        if (!free_slot && instance->workers == 0)
            free_slot = instance;
    }
    if (self->instance_count < MAX_INSTANCES)
        free_slot = &self->instances [self->instance_count++];
    if (!free_slot)
        free_slot = &self->instances [0];      /* full of live instances: share a row */
    snprintf (free_slot->service, sizeof free_slot->service, "%s", service);
    snprintf (free_slot->instance, sizeof free_slot->instance, "%s", label);
    free_slot->requests = 0;
    return free_slot;
}

/* A request from a remote client (MDPC01): where and under which correlation id its answer
   goes. Owned by the pending request's fn argument; freed when the answer is sent. */
typedef struct {
    mdp_broker_t *broker;
    unsigned char identity [256];
    size_t identity_size;
    unsigned char correlation [64];
    size_t correlation_size;
} client_t;

/* Answers a remote client: ["", MDPC01, correlation id, status byte, body]. A client that is
   gone (ROUTER_MANDATORY) loses its answer, which is what it asked for by leaving. */
static void
s_client_reply (void *arg, mdp_status_t status, const void *data, size_t size)
{
    client_t *client = arg;
    void *router = client->broker->router;
    unsigned char status_byte = (unsigned char) status;
    if (zmq_send (router, client->identity, client->identity_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) != -1) {
        zmq_send (router, "", 0, ZMQ_SNDMORE);
        zmq_send (router, MDPC_CLIENT, strlen (MDPC_CLIENT), ZMQ_SNDMORE);
        zmq_send (router, client->correlation, client->correlation_size, ZMQ_SNDMORE);
        zmq_send (router, &status_byte, 1, ZMQ_SNDMORE);
        zmq_send (router, data, size, 0);
    }
    free (client);
}

static worker_t *
s_worker_find (mdp_broker_t *self, const void *identity, size_t size)
{
    for (worker_t *worker = self->workers; worker; worker = worker->next)
        if (worker->identity_size == size && memcmp (worker->identity, identity, size) == 0)
            return worker;
    return NULL;
}

static void
s_waiting_remove (service_t *service, worker_t *worker)
{
    worker_t **link = &service->waiting_head;
    worker_t *previous = NULL;
    while (*link && *link != worker) {
        previous = *link;
        link = &(*link)->next_waiting;
    }
    if (!*link)
        return;
    *link = worker->next_waiting;
    if (service->waiting_tail == worker)
        service->waiting_tail = previous;
    worker->next_waiting = NULL;
    worker->waiting = false;
}

static void
s_dispatched_unlink (mdp_broker_t *self, pending_t *pending)
{
    if (pending->prev)
        pending->prev->next = pending->next;
    else
        self->dispatched = pending->next;
    if (pending->next)
        pending->next->prev = pending->prev;
    pending->next = pending->prev = NULL;
}

static void
s_queue_fail_all (service_t *service, mdp_status_t status)
{
    while (service->queue_head) {
        pending_t *pending = service->queue_head;
        service->queue_head = pending->next;
        s_pending_finish (&pending, status, NULL, 0);
    }
    service->queue_tail = NULL;
    __atomic_store_n (&service->queued, 0, __ATOMIC_RELAXED);
}

static void s_request_accept (mdp_broker_t *self, pending_t *pending);

static void
s_queue_append (service_t *service, pending_t *pending)
{
    pending->next = NULL;
    if (service->queue_tail)
        service->queue_tail->next = pending;
    else
        service->queue_head = pending;
    service->queue_tail = pending;
    __atomic_add_fetch (&service->queued, 1, __ATOMIC_RELAXED);
}

/* Whether a service without workers lost its last one so lately that one may come back. */
static bool
s_rejoining (const service_t *service, int64_t now_us)
{
    return service->orphaned_us && now_us < service->orphaned_us + REJOIN_GRACE_US;
}

/* Forgets a worker: its requests in hand fail as unavailable (a worker may have acted on
   them, so they are never sent twice). */
static void
s_worker_delete (mdp_broker_t *self, worker_t *worker, bool send_disconnect)
{
    if (send_disconnect)
        s_send (self, worker->identity, worker->identity_size, MDPW_DISCONNECT, NULL, 0, NULL, 0);
    service_t *service = worker->service;
    for (int i = 0; i < MDP_MAX_CREDIT; i++) {
        pending_t *pending = worker->slots [i].pending;
        if (pending) {
            s_dispatched_unlink (self, pending);
            s_pending_finish (&pending, MDP_LOST, NULL, 0);
        }
    }
    pthread_mutex_lock (&self->stats_lock);
    worker_t **link = &self->workers;
    while (*link != worker)
        link = &(*link)->next;
    *link = worker->next;
    if (service)
        service->workers--;
    if (worker->instance)
        worker->instance->workers--;
    pthread_mutex_unlock (&self->stats_lock);
    if (service) {
        s_waiting_remove (service, worker);
        if (service->workers == 0) {
            /* What a method's own workers were to serve goes back to its service's; the rest
               waits out the grace for a worker to come back (s_expire). */
            service->orphaned_us = clock_mono_us ();
            pending_t *queued = service->queue_head;
            service->queue_head = service->queue_tail = NULL;
            __atomic_store_n (&service->queued, 0, __ATOMIC_RELAXED);
            while (queued) {
                pending_t *pending = queued;
                queued = pending->next;
                if (strcmp (pending->service, service->name) != 0)
                    s_request_accept (self, pending);
                else
                    s_queue_append (service, pending);
            }
        }
    }
    free (worker);
}

/* Puts a worker with a free slot at the end of its service's waiting list. */
static void
s_waiting_append (worker_t *worker)
{
    service_t *service = worker->service;
    worker->next_waiting = NULL;
    worker->waiting = true;
    if (service->waiting_tail)
        service->waiting_tail->next_waiting = worker;
    else
        service->waiting_head = worker;
    service->waiting_tail = worker;
}

/* Hands queued requests to workers with a free slot while both exist: to an idle worker
   first (the longest waiting), else to a busy one with credit left, in turn. A worker with
   credit for more goes back to the end of the line. */
static void
s_service_dispatch (mdp_broker_t *self, service_t *service)
{
    while (service->queue_head && service->waiting_head) {
        worker_t *worker = service->waiting_head;
        while (worker && worker->held > 0)
            worker = worker->next_waiting;
        if (!worker)
            worker = service->waiting_head;
        s_waiting_remove (service, worker);

        pending_t *pending = service->queue_head;
        unsigned char address [9] = { 'L' };
        memcpy (address + 1, &pending->id, sizeof pending->id);
        if (s_send (self, worker->identity, worker->identity_size, MDPW_REQUEST,
                    address, sizeof address, pending->body, pending->size) == -1) {
            /* The peer is gone (killed): drop it and try the next worker. */
            log_warn ("worker of '%s' is gone, dropping it", service->name);
            s_worker_delete (self, worker, false);
            continue;
        }
        service->queue_head = pending->next;
        if (!service->queue_head)
            service->queue_tail = NULL;
        __atomic_sub_fetch (&service->queued, 1, __ATOMIC_RELAXED);
        pending->next = self->dispatched;
        pending->prev = NULL;
        if (self->dispatched)
            self->dispatched->prev = pending;
        self->dispatched = pending;
        int slot = 0;
        while (worker->slots [slot].used)
            slot++;
        worker->slots [slot].used = true;
        worker->slots [slot].id = pending->id;
        worker->slots [slot].pending = pending;
        worker->held++;
        pending->worker = worker;
        pending->slot = slot;
        pthread_mutex_lock (&self->stats_lock);
        worker->instance->requests++;
        pthread_mutex_unlock (&self->stats_lock);
        if (worker->held < worker->credit)
            s_waiting_append (worker);
    }
}

/* A worker has a free slot again: it said READY, or it answered. */
static void
s_worker_freed (mdp_broker_t *self, worker_t *worker)
{
    if (!worker->waiting)
        s_waiting_append (worker);
    s_service_dispatch (self, worker->service);
}

/* The service a request goes to: its method's own workers when there are any. */
static service_t *
s_service_for (mdp_broker_t *self, const pending_t *pending)
{
    if (*pending->method)
        for (service_t *service = self->services; service; service = service->next)
            if (service->workers > 0 && strcmp (service->name, pending->method) == 0)
                return service;
    return s_service_require (self, pending->service);
}

static void
s_request_accept (mdp_broker_t *self, pending_t *pending)
{
    service_t *service = s_service_for (self, pending);
    if ((service->workers == 0 && !s_rejoining (service, clock_mono_us ()))
    ||  service->queued >= MAX_QUEUED) {
        s_pending_finish (&pending, MDP_UNAVAILABLE, NULL, 0);
        return;
    }
    s_queue_append (service, pending);
    s_service_dispatch (self, service);
}

/* ["", MDPC01, service, timeout_ms, correlation id, body] from a client: queued like a
   submission from this process, answered by s_client_reply. */
static void
s_client_message (mdp_broker_t *self, zmq_msg_t *frames, int count)
{
    if (count != 7
    ||  zmq_msg_size (&frames [0]) > sizeof ((client_t *) 0)->identity
    ||  zmq_msg_size (&frames [3]) == 0
    ||  zmq_msg_size (&frames [3]) >= sizeof ((pending_t *) 0)->service
    ||  zmq_msg_size (&frames [4]) == 0 || zmq_msg_size (&frames [4]) > 10
    ||  zmq_msg_size (&frames [5]) > sizeof ((client_t *) 0)->correlation) {
        log_warn ("dropping a malformed message from a client");
        return;
    }
    char text [16];
    snprintf (text, sizeof text, "%.*s", (int) zmq_msg_size (&frames [4]),
              (char *) zmq_msg_data (&frames [4]));
    char *end;
    long timeout_ms = strtol (text, &end, 10);
    if (*end || timeout_ms < 0) {
        log_warn ("dropping a client request with timeout '%s'", text);
        return;
    }
    if (timeout_ms > MAX_CLIENT_TIMEOUT_MS)
        timeout_ms = MAX_CLIENT_TIMEOUT_MS;
    client_t *client = calloc (1, sizeof *client);
    pending_t *pending = calloc (1, sizeof *pending);
    assert (client && pending);
    client->broker = self;
    client->identity_size = zmq_msg_size (&frames [0]);
    memcpy (client->identity, zmq_msg_data (&frames [0]), client->identity_size);
    client->correlation_size = zmq_msg_size (&frames [5]);
    memcpy (client->correlation, zmq_msg_data (&frames [5]), client->correlation_size);
    /* "<service>.<Method>": the method's own workers when it has some, else the service's. */
    snprintf (pending->method, sizeof pending->method, "%.*s", (int) zmq_msg_size (&frames [3]),
              (char *) zmq_msg_data (&frames [3]));
    snprintf (pending->service, sizeof pending->service, "%.*s",
              (int) strcspn (pending->method, "."), pending->method);
    if (!strchr (pending->method, '.'))
        pending->method [0] = 0;
    pending->size = zmq_msg_size (&frames [6]);
    pending->body = malloc (pending->size? pending->size: 1);
    assert (pending->body);
    memcpy (pending->body, zmq_msg_data (&frames [6]), pending->size);
    pending->deadline_us = clock_mono_us () + timeout_ms * 1000;
    pending->fn = s_client_reply;
    pending->arg = client;
    pthread_mutex_lock (&self->inbox_lock);
    pending->id = self->next_id++;
    pthread_mutex_unlock (&self->inbox_lock);
    s_request_accept (self, pending);
}

static void
s_worker_message (mdp_broker_t *self, zmq_msg_t *frames, int count)
{
    if (count >= 3 && zmq_msg_size (&frames [2]) == strlen (MDPC_CLIENT)
    &&  memcmp (zmq_msg_data (&frames [2]), MDPC_CLIENT, strlen (MDPC_CLIENT)) == 0) {
        s_client_message (self, frames, count);
        return;
    }

    const void *identity = zmq_msg_data (&frames [0]);
    size_t identity_size = zmq_msg_size (&frames [0]);
    if (count < 4 || identity_size > sizeof ((worker_t *) 0)->identity
    ||  zmq_msg_size (&frames [2]) != strlen (MDPW_WORKER)
    ||  memcmp (zmq_msg_data (&frames [2]), MDPW_WORKER, strlen (MDPW_WORKER)) != 0
    ||  zmq_msg_size (&frames [3]) != 1) {
        log_warn ("dropping a malformed message from a peer");
        return;
    }
    char command = *(char *) zmq_msg_data (&frames [3]);
    worker_t *worker = s_worker_find (self, identity, identity_size);

    if (command == MDPW_READY [0]) {
        if (worker || count < 5 || zmq_msg_size (&frames [4]) == 0
        ||  zmq_msg_size (&frames [4]) >= MDP_NAME_MAX) {
            if (count >= 5 && zmq_msg_size (&frames [4]) >= MDP_NAME_MAX)
                log_warn ("refused a worker for a service name of %zu bytes (at most %d)",
                          zmq_msg_size (&frames [4]), MDP_NAME_MAX - 1);
            if (worker)
                s_worker_delete (self, worker, true);
            else
                s_send (self, identity, identity_size, MDPW_DISCONNECT, NULL, 0, NULL, 0);
            return;
        }
        char name [MDP_NAME_MAX], label [64] = "unknown";
        snprintf (name, sizeof name, "%.*s", (int) zmq_msg_size (&frames [4]),
                  (char *) zmq_msg_data (&frames [4]));
        if (count >= 6)
            snprintf (label, sizeof label, "%.*s", (int) zmq_msg_size (&frames [5]),
                      (char *) zmq_msg_data (&frames [5]));
        /* Under CURVE the peer's key names the service it may serve (curve.c). */
        const char *user = self->curve? zmq_msg_gets (&frames [2], "User-Id"): NULL;   /* a peer-sent frame */
        if (self->curve && !(user && curve_may_serve (user, name))) {
            log_warn ("refused a worker from '%s' for service '%s': its key is %s's",
                      label, name, user? user: "no service");
            s_send (self, identity, identity_size, MDPW_DISCONNECT, NULL, 0, NULL, 0);
            return;
        }
        char credit [8] = "1";
        if (count >= 7 && zmq_msg_size (&frames [6]) < sizeof credit)
            snprintf (credit, sizeof credit, "%.*s", (int) zmq_msg_size (&frames [6]),
                      (char *) zmq_msg_data (&frames [6]));
        worker = calloc (1, sizeof *worker);
        assert (worker);
        memcpy (worker->identity, identity, identity_size);
        worker->identity_size = identity_size;
        worker->service = s_service_require (self, name);
        worker->credit = atoi (credit);
        if (worker->credit < 1 || worker->credit > MDP_MAX_CREDIT)
            worker->credit = 1;
        worker->expiry_us = clock_mono_us () + MDP_HEARTBEAT_MS * MDP_LIVENESS * 1000;
        pthread_mutex_lock (&self->stats_lock);
        worker->instance = s_instance_require (self, name, label);
        s_announced (self, worker->service, count >= 8? &frames [7]: NULL);
        worker->instance->workers++;
        worker->service->workers++;
        worker->service->orphaned_us = 0;
        worker->next = self->workers;
        self->workers = worker;
        pthread_mutex_unlock (&self->stats_lock);
        if (worker->service->workers == 1)
            log_info ("service '%s' is available (worker from '%s')", name, label);
        /* A beat at once: a worker that connected while this broker was away hears that it is
           back before its own patience runs out (else it connects again, and the requests sent
           to the socket it leaves are lost with it). */
        s_send (self, identity, identity_size, MDPW_HEARTBEAT, NULL, 0, NULL, 0);
        s_worker_freed (self, worker);
        return;
    }
    if (!worker) {
        /* Not known here (say, the broker restarted): ask it to reconnect and say READY. */
        s_send (self, identity, identity_size, MDPW_DISCONNECT, NULL, 0, NULL, 0);
        return;
    }
    worker->expiry_us = clock_mono_us () + MDP_HEARTBEAT_MS * MDP_LIVENESS * 1000;
    if (command == MDPW_REPLY [0]) {
        uint64_t id = 0;
        if (count >= 7 && zmq_msg_size (&frames [4]) == 9)
            memcpy (&id, (char *) zmq_msg_data (&frames [4]) + 1, sizeof id);
        int slot = 0;
        while (slot < MDP_MAX_CREDIT && !(worker->slots [slot].used && worker->slots [slot].id == id))
            slot++;
        if (count < 7 || slot == MDP_MAX_CREDIT) {
            s_worker_delete (self, worker, true);      /* a reply to nothing it holds */
            return;
        }
        pending_t *pending = worker->slots [slot].pending;
        worker->slots [slot].used = false;
        worker->slots [slot].pending = NULL;
        worker->held--;
        if (pending) {
            s_dispatched_unlink (self, pending);
            s_pending_finish (&pending, MDP_OK, zmq_msg_data (&frames [6]),
                              zmq_msg_size (&frames [6]));
        }
        s_worker_freed (self, worker);
    }
    else
    if (command == MDPW_DISCONNECT [0]) {
        /* A worker says DISCONNECT only after answering every request it read, so those sent
           to it meanwhile were never started: give them to another worker rather than fail them
           (with none left, they wait out the grace for one to come back, as new requests do). */
        pending_t *crossed [MDP_MAX_CREDIT];
        int count_crossed = 0;
        for (int i = 0; i < MDP_MAX_CREDIT; i++)
            if (worker->slots [i].pending) {
                crossed [count_crossed] = worker->slots [i].pending;
                s_dispatched_unlink (self, crossed [count_crossed++]);
                worker->slots [i].pending = NULL;
            }
        service_t *service = worker->service;
        s_worker_delete (self, worker, false);
        for (int i = 0; i < count_crossed; i++) {
            pending_t *pending = crossed [i];
            pending->worker = NULL;
            if (service->workers == 0) {
                s_request_accept (self, pending);
                continue;
            }
            pending->next = service->queue_head;
            service->queue_head = pending;
            if (!service->queue_tail)
                service->queue_tail = pending;
            __atomic_add_fetch (&service->queued, 1, __ATOMIC_RELAXED);
        }
        s_service_dispatch (self, service);
    }
    else
    if (command != MDPW_HEARTBEAT [0])
        s_worker_delete (self, worker, true);
}

/* Heartbeats every worker, busy or not: a send that fails means the peer is gone, which is
   how a worker killed in the middle of a request is noticed within one beat. Dropping a
   worker may drop others (the requests queued for a method's last worker go to its service's,
   and a send to one of those that died too drops it), so the dead are marked first and then
   dropped one at a time, looking again from the start of the list after each. */
static void
s_heartbeat (mdp_broker_t *self, int64_t now_us)
{
    for (worker_t *worker = self->workers; worker; worker = worker->next) {
        worker->gone = s_send (self, worker->identity, worker->identity_size, MDPW_HEARTBEAT,
                               NULL, 0, NULL, 0) == -1 && errno == EHOSTUNREACH;
        worker->silent = worker->held == 0 && worker->expiry_us < now_us;
    }
    worker_t *worker = self->workers;
    while (worker)
        if (worker->gone || worker->silent) {
            log_warn ("worker of '%s' %s, dropping it", worker->service->name,
                      worker->gone? "is gone": "stopped heartbeating");
            s_worker_delete (self, worker, false);
            worker = self->workers;
        }
        else
            worker = worker->next;
}

static void
s_expire (mdp_broker_t *self, int64_t now_us)
{
    for (service_t *service = self->services; service; service = service->next) {
        bool given_up = service->workers == 0 && !s_rejoining (service, now_us);
        pending_t **link = &service->queue_head;
        pending_t *previous = NULL;
        while (*link) {
            pending_t *pending = *link;
            if (pending->deadline_us > now_us && !given_up) {
                previous = pending;
                link = &pending->next;
                continue;
            }
            *link = pending->next;
            if (service->queue_tail == pending)
                service->queue_tail = previous;
            __atomic_sub_fetch (&service->queued, 1, __ATOMIC_RELAXED);
            s_pending_finish (&pending, given_up? MDP_UNAVAILABLE: MDP_TIMEOUT, NULL, 0);
        }
    }
    pending_t *pending = self->dispatched;
    while (pending) {
        pending_t *next = pending->next;
        if (pending->deadline_us <= now_us) {
            pending->worker->slots [pending->slot].pending = NULL;   /* its late reply is dropped */
            s_dispatched_unlink (self, pending);
            s_pending_finish (&pending, MDP_TIMEOUT, NULL, 0);
        }
        pending = next;
    }
}

static int64_t
s_next_wake_us (mdp_broker_t *self)
{
    int64_t wake = self->heartbeat_at_us;
    for (pending_t *pending = self->dispatched; pending; pending = pending->next)
        if (pending->deadline_us < wake)
            wake = pending->deadline_us;
    for (service_t *service = self->services; service; service = service->next) {
        if (service->queue_head && service->workers == 0
        &&  service->orphaned_us + REJOIN_GRACE_US < wake)
            wake = service->orphaned_us + REJOIN_GRACE_US;
        for (pending_t *pending = service->queue_head; pending; pending = pending->next)
            if (pending->deadline_us < wake)
                wake = pending->deadline_us;
    }
    return wake;
}

static void
s_drain_inbox (mdp_broker_t *self)
{
    uint64_t counter;
    if (read (self->wakeup_fd, &counter, sizeof counter) < 0 && errno != EAGAIN)
        log_warn ("cannot read the broker's wake-up fd: %s", strerror (errno));
    pthread_mutex_lock (&self->inbox_lock);
    pending_t *pending = self->inbox_head;
    self->inbox_head = self->inbox_tail = NULL;
    pthread_mutex_unlock (&self->inbox_lock);
    while (pending) {
        pending_t *next = pending->next;
        s_request_accept (self, pending);
        pending = next;
    }
}

static void *
s_broker_thread (void *arg)
{
    mdp_broker_t *self = arg;
    self->heartbeat_at_us = clock_mono_us () + MDP_HEARTBEAT_MS * 1000;
    while (!self->stopping) {
        zmq_pollitem_t items [] = {
            { self->router, 0, ZMQ_POLLIN, 0 },
            { NULL, self->wakeup_fd, ZMQ_POLLIN, 0 }
        };
        int64_t wait_us = s_next_wake_us (self) - clock_mono_us ();
        long timeout_ms = wait_us <= 0? 0: (long) (wait_us + 999) / 1000;
        if (zmq_poll (items, 2, timeout_ms) == -1 && errno != EINTR)
            break;
        if (items [1].revents & ZMQ_POLLIN)
            s_drain_inbox (self);
        /* Take what has arrived, in bounded batches so timers still run under load. */
        for (int batch = 0; batch < 256; batch++) {
            zmq_msg_t frames [MAX_FRAMES];
            int count = 0;
            bool more = true;
            while (more && count < MAX_FRAMES) {
                zmq_msg_init (&frames [count]);
                if (zmq_msg_recv (&frames [count], self->router, ZMQ_DONTWAIT) == -1) {
                    zmq_msg_close (&frames [count]);
                    more = false;
                    break;
                }
                more = zmq_msg_more (&frames [count++]);
            }
            while (more) {              /* frames beyond what any command has: discard */
                zmq_msg_t extra;
                zmq_msg_init (&extra);
                zmq_msg_recv (&extra, self->router, 0);
                more = zmq_msg_more (&extra);
                zmq_msg_close (&extra);
            }
            if (count == 0)
                break;
            s_worker_message (self, frames, count);
            for (int i = 0; i < count; i++)
                zmq_msg_close (&frames [i]);
        }
        int64_t now = clock_mono_us ();
        if (now >= self->heartbeat_at_us) {
            s_heartbeat (self, now);
            self->heartbeat_at_us = now + MDP_HEARTBEAT_MS * 1000;
        }
        s_expire (self, now);
    }
    return NULL;
}

mdp_broker_t *
mdp_broker_new (const char *endpoint)
{
    mdp_broker_t *self = calloc (1, sizeof *self);
    assert (self);
    self->context = zmq_ctx_new ();
    self->router = zmq_socket (self->context, ZMQ_ROUTER);
    int on = 1, linger = 0;
    zmq_setsockopt (self->router, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
    zmq_setsockopt (self->router, ZMQ_LINGER, &linger, sizeof linger);
    int keys = curve_server_start (self->context, self->router, &self->curve);
    if (keys == -1 || zmq_bind (self->router, endpoint) == -1) {
        if (keys == 0)
            log_error ("cannot bind the broker to '%s': %s", endpoint, zmq_strerror (errno));
        curve_server_stop (&self->curve);
        zmq_close (self->router);
        zmq_ctx_term (self->context);
        free (self);
        return NULL;
    }
    self->wakeup_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert (self->wakeup_fd >= 0);
    pthread_mutex_init (&self->inbox_lock, NULL);
    pthread_mutex_init (&self->stats_lock, NULL);
    self->next_id = 1;
    pthread_create (&self->thread, NULL, s_broker_thread, self);
    log_info ("broker listening on '%s'", endpoint);
    return self;
}

void
mdp_broker_destroy (mdp_broker_t **self_p)
{
    mdp_broker_t *self = *self_p;
    if (!self)
        return;
    self->stopping = true;
    uint64_t one = 1;
    if (write (self->wakeup_fd, &one, sizeof one) < 0)
        log_warn ("cannot wake the broker: %s", strerror (errno));
    pthread_join (self->thread, NULL);

    while (self->dispatched) {
        pending_t *pending = self->dispatched;
        self->dispatched = pending->next;
        pending->worker->slots [pending->slot].pending = NULL;
        s_pending_finish (&pending, MDP_SHUTDOWN, NULL, 0);
    }
    while (self->workers)
        s_worker_delete (self, self->workers, true);
    pthread_mutex_lock (&self->inbox_lock);
    pending_t *inbox = self->inbox_head;
    self->inbox_head = self->inbox_tail = NULL;
    self->stopping = true;
    pthread_mutex_unlock (&self->inbox_lock);
    while (inbox) {
        pending_t *next = inbox->next;
        s_pending_finish (&inbox, MDP_SHUTDOWN, NULL, 0);
        inbox = next;
    }
    while (self->services) {
        service_t *service = self->services;
        self->services = service->next;
        s_queue_fail_all (service, MDP_SHUTDOWN);
        free (service->announced);
        free (service);
    }
    zmq_close (self->router);
    curve_server_stop (&self->curve);
    zmq_ctx_term (self->context);
    close (self->wakeup_fd);
    pthread_mutex_destroy (&self->inbox_lock);
    pthread_mutex_destroy (&self->stats_lock);
    free (self);
    *self_p = NULL;
}

void
mdp_broker_submit (mdp_broker_t *self, const char *service, const char *method,
                   const void *body, size_t size, int64_t deadline_us, mdp_reply_fn *fn, void *arg)
{
    pending_t *pending = calloc (1, sizeof *pending);
    assert (pending);
    snprintf (pending->service, sizeof pending->service, "%s", service);
    snprintf (pending->method, sizeof pending->method, "%s", method? method: "");
    pending->body = malloc (size? size: 1);
    assert (pending->body);
    memcpy (pending->body, body, size);
    pending->size = size;
    pending->deadline_us = deadline_us;
    pending->fn = fn;
    pending->arg = arg;

    pthread_mutex_lock (&self->inbox_lock);
    if (self->stopping) {
        pthread_mutex_unlock (&self->inbox_lock);
        s_pending_finish (&pending, MDP_SHUTDOWN, NULL, 0);
        return;
    }
    pending->id = self->next_id++;
    bool was_empty = self->inbox_head == NULL;
    if (self->inbox_tail)
        self->inbox_tail->next = pending;
    else
        self->inbox_head = pending;
    self->inbox_tail = pending;
    pthread_mutex_unlock (&self->inbox_lock);
    uint64_t one = 1;
    if (was_empty && write (self->wakeup_fd, &one, sizeof one) < 0)
        log_warn ("cannot wake the broker: %s", strerror (errno));
}

/* The live workers (or, queued, the requests waiting) of the service named name: 0 for one
   never seen. Any thread. */
static int
s_service_count (mdp_broker_t *self, const char *name, bool queued)
{
    int count = 0;
    pthread_mutex_lock (&self->stats_lock);
    for (service_t *entry = self->services; entry; entry = entry->next)
        if (strcmp (entry->name, name) == 0)
            count = queued? __atomic_load_n (&entry->queued, __ATOMIC_RELAXED): entry->workers;
    pthread_mutex_unlock (&self->stats_lock);
    return count;
}

int
mdp_broker_workers (mdp_broker_t *self, const char *service)
{
    return s_service_count (self, service, false);
}

int
mdp_broker_queued (mdp_broker_t *self, const char *service)
{
    return s_service_count (self, service, true);
}

void
mdp_broker_stats (mdp_broker_t *self, mdp_stat_fn *fn, void *arg)
{
    pthread_mutex_lock (&self->stats_lock);
    for (int i = 0; i < self->instance_count; i++) {
        instance_t *instance = &self->instances [i];
        fn (arg, instance->service, instance->instance, instance->workers, instance->requests);
    }
    pthread_mutex_unlock (&self->stats_lock);
}

uint64_t
mdp_broker_announced (mdp_broker_t *self)
{
    return __atomic_load_n (&self->announcements, __ATOMIC_ACQUIRE);
}

void
mdp_broker_announcements (mdp_broker_t *self, mdp_announce_fn *fn, void *arg)
{
    pthread_mutex_lock (&self->stats_lock);
    for (service_t *service = self->services; service; service = service->next)
        if (service->announced)
            fn (arg, service->name, service->announced, service->announced_size);
    pthread_mutex_unlock (&self->stats_lock);
}
