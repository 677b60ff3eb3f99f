/* svc.h - a service's runtime: configuration, migrations, worker threads each with its own
   PostgreSQL connection, the method table, replies with field-level errors */
#ifndef KAIIN_SVC_H
#define KAIIN_SVC_H
#include "envelope.pb-c.h"
#include "event.pb-c.h"
#include "messages.h"
#include "pg.h"
#include "svc_http.h"
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#define SVC_MAX_FIELD_ERRORS 16

/* One request as a handler sees it. */
typedef struct {
    const Kaiin__Request *envelope;   /* borrowed: request id, caller, now, payload */
    pg_t *db;                         /* the worker thread's own connection */
} svc_request_t;

/* What a handler answers: a status with message and field errors, or OK with a payload. */
typedef struct {
    Kaiin__Status status;
    char message [256];
    const char *code;                 /* the message's stable code (static), or NULL */
    size_t error_count;
    struct { char field [64]; char reason [192]; const char *code; } errors [SVC_MAX_FIELD_ERRORS];
    uint8_t *payload;                 /* owned: packed reply message */
    size_t payload_size;
    /* For an HTTP request, what the gateway does besides answering (envelope.proto's Reply):
       its store of sessions and keys is its own, and a service never sees a token. */
    struct { char kind [8]; char id [64]; char role [16]; } session;      /* kind "": none */
    struct { char kind [8]; char id [64]; bool keep_caller; } ends [2];
    size_t end_count;
    struct { char name [32]; char value [128]; } headers [2];
    size_t header_count;
    unsigned http_status;             /* 0: the route's; >= 400: answered as a problem with
                                         the reply's JSON, the message as its detail, ... */
    const char *problem_type, *problem_title;   /* ... and this type and title (static) */
    bool japanese;                    /* the caller prefers Japanese (the envelope's language):
                                         svc_fail and svc_field_error write their sentences in
                                         it (common/messages.c) */
} svc_reply_t;

/* A handler validates, does the work and fills reply. Returns 0, or -1 after setting an error. */
typedef int (svc_handler_fn) (svc_request_t *request, svc_reply_t *reply);

/* Serves several requests of one method at once (say, reads answered by one statement):
   replies [i] answers requests [i]. Each reply is set as a handler's would be. */
typedef void (svc_batch_fn) (svc_request_t *const *requests, svc_reply_t *const *replies, int count);

/* Serves a group-commit method's requests at once (set-based statements) inside the group's
   transaction: replies [i] answers requests [i] when it sets served [i]; a request it leaves
   unserved is served by the method's handler after it, alone in a savepoint. Returns -1 after
   a database error: what it wrote is rolled back, and every request is served by the handler. */
typedef int (svc_group_fn) (svc_request_t *const *requests, svc_reply_t *const *replies,
                            bool *served, int count);

typedef struct {
    const char *method;               /* "Create": served as "<service>.Create" */
    svc_handler_fn *handler;
    bool idempotent;                  /* honours the envelope's idempotency key: the key, a hash
                                         of the payload and the first OK reply are stored in the
                                         service's schema in the handler's own transaction (the
                                         handler's pg_begin/pg_commit nest inside it). A retry
                                         gets the kept reply (Reply.replayed); a key in use
                                         answers ABORTED, a key used with another request
                                         FAILED_PRECONDITION, both with a field error on
                                         "Idempotency-Key" (the gateway: 409 and 422) */
    svc_batch_fn *batch;              /* optional: the method gets workers of its own
                                         (<NAME>_BATCH_WORKERS, 2), registered with the broker as
                                         "<service>.<Method>", each holding up to
                                         <NAME>_BATCH_CREDIT (16) of its requests, which it
                                         serves together */
    bool group_commit;                /* its requests that arrive together share one
                                         transaction and one commit (one WAL flush), each in a
                                         savepoint of its own: one that fails is rolled back
                                         alone with its own error; every one is answered after
                                         the commit. Own workers as with batch. Only for
                                         handlers whose effects are all in the database (no
                                         call to another service or provider) */
    svc_group_fn *group;              /* optional, with group_commit: serves a group's requests
                                         (two or more) at once, in one savepoint of its
                                         transaction */
} svc_method_t;

/* Applies one event of another service inside the consumer's open transaction (the position
   is stored in the same transaction, in the row of consumer_positions it holds locked, so each
   event is applied exactly once across threads and processes). now_ms is the logical time.
   Events it does not care about, or cannot ever apply, it skips by returning 0 (a logged
   skip never blocks the stream). Returns 0, or -1 to roll the batch back and retry later. */
typedef int (svc_apply_fn) (pg_t *db, const Kaiin__Event *event, int64_t now_ms);

/* After a batch's last apply: keep true, in the batch's transaction before its position is
   stored, writes what apply set aside to write for the whole batch at once (set-based);
   keep false, after the batch was rolled back, forgets it. Returns 0, or -1 (keep true) to
   roll the batch back. */
typedef int (svc_flush_fn) (pg_t *db, bool keep);

typedef struct {
    const char *source;               /* the service whose events are read: "billing" */
    svc_apply_fn *apply;
    svc_flush_fn *flush;              /* NULL: apply writes everything itself */
    int batch;                        /* the events asked for at once; 0: the runtime's 500
                                         (KAIIN_CONSUMER_BATCH overrides either) */
} svc_consumer_t;

/* Does one batch of the work that is due at now_ms (renewals, retries, expiries). Returns how
   many items it did (the runtime calls it again at once while > 0), 0 when nothing is due, or
   -1 on a database error. Must be safe to run on several threads and processes at once. */
typedef int (svc_tick_fn) (pg_t *db, int64_t now_ms);

/* A figure of the service's own data that <name>.Prometheus shows as a Prometheus gauge: sql
   (prepared at start like every statement) returns rows of (label's value, number), or one
   row of (number) when label is NULL. Counts of rows by state are the usual ones. */
typedef struct {
    const char *name;                 /* "kaiin_members" */
    const char *help;                 /* "Members by status." */
    const char *label;                /* "status", or NULL */
    const char *sql;
} svc_gauge_t;

typedef struct {
    const char *name;                 /* the service, its schema, and its settings' prefix */
    const svc_method_t *methods;      /* ends with { NULL, NULL } */
    void (*prepare) (pg_t *db);       /* records the service's statements on a connection */
    const svc_consumer_t *consumers;  /* ends with { NULL, NULL }; NULL = none. Each gets a
                                         thread of its own reading <source>.EventsSince */
    svc_tick_fn *tick;                /* NULL = no scheduled work; else <NAME>_TICK_THREADS
                                         threads (default 2) call it */
    const svc_http_t *http;           /* NULL = no HTTP face; else its routes, announced to the
                                         gateway by every worker's READY (svc_http.h) */
    const messages_entry_t *messages; /* NULL, or its sentences in Japanese (messages.h) */
    const svc_gauge_t *gauges;        /* NULL, or ends with { NULL }: its figures in
                                         <name>.Prometheus, besides the runtime's own */
    int (*start) (pg_t *db);          /* NULL, or runs once after the migrations, before any
                                         worker, on a connection with the statements
                                         prepared: -1 stops start-up */
} svc_def_t;

/* Runs the service until SIGTERM or SIGINT: reads <NAME>_PG_URL, <NAME>_PG_OWNER_URL,
   <NAME>_WORKERS, <NAME>_MIGRATIONS and KAIIN_BROKER_ENDPOINT, applies migrations, serves
   requests on worker threads, and lets in-flight requests finish on the way out. Every service
   also serves "<name>.EventsSince" from its outbox, and with KAIIN_TEST_MODE=1
   "<name>.ClockSet" (proto/clock.proto: moves the test clock, runs the tick until nothing is
   due, drains every consumer, then answers), and "<name>.Prometheus" (proto/metrics.proto). The runtime's tables (outbox,
   consumer_positions, idempotency_keys) are migrated into the service's schema first. With the argument "--healthcheck" it only
   says (exit 0 or 1) whether the running service is connected to the broker and its database.
   Returns main's exit code. */
int svc_main (const svc_def_t *def, int argc, char **argv);

/* Sets an error status with a message, in Japanese when the reply is japanese and the table of
   messages (common/messages.h) has fmt, and the code the table gives fmt. Pass the English
   format itself: a sentence already written ("%s", text) has no code. Returns -1. */
int svc_fail (svc_reply_t *reply, Kaiin__Status status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Adds a field error and sets INVALID_ARGUMENT with code "invalid_fields" (or keeps another
   error status already set); the reason in Japanese and its code as svc_fail's message. */
void svc_field_error (svc_reply_t *reply, const char *field, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* As svc_fail and svc_field_error for a sentence of the table held in a variable (no printf
   arguments): its words in the reply's language, its code. */
int svc_fail_say (svc_reply_t *reply, Kaiin__Status status, const char *english);
void svc_field_error_say (svc_reply_t *reply, const char *field, const char *english);

/* As svc_field_error with a reason already written and its code (NULL: none). */
void svc_field_error_coded (svc_reply_t *reply, const char *field, const char *code, const char *reason);

/* Fails the reply after a database error: UNAVAILABLE when the connection was lost, else
   INTERNAL with the SQLSTATE. Called when the last statement succeeded (the failure was not
   the database's), it answers INTERNAL and logs where it was called from. Returns -1. */
#define svc_db_fail(reply, db) svc_db_fail_at ((reply), (db), __FILE__, __LINE__)
int svc_db_fail_at (svc_reply_t *reply, pg_t *db, const char *file, int line);

/* Packs message as the reply's payload with status OK. Returns 0. */
int svc_reply_with (svc_reply_t *reply, const ProtobufCMessage *message);

/* A reply that signs in: the gateway makes a session of kind ("staff" or "member") for id
   (a staff account's with its role) and answers its token beside the reply's JSON. */
void svc_reply_session_start (svc_reply_t *reply, const char *kind, const char *id, const char *role);

/* A reply that signs out: the gateway ends every session of kind ("staff", "member") for id,
   but the caller's own when keep_caller, or forgets the API key id (kind "api_key"). */
void svc_reply_session_end (svc_reply_t *reply, const char *kind, const char *id, bool keep_caller);

/* A response header besides the usual ones (Content-Disposition). */
void svc_reply_header (svc_reply_t *reply, const char *name, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Unpacks the request's payload as descriptor's message; on garbage sets INVALID_ARGUMENT and
   returns NULL. The caller frees with protobuf_c_message_free_unpacked. */
ProtobufCMessage *svc_unpack (svc_request_t *request, const ProtobufCMessageDescriptor *descriptor,
                              svc_reply_t *reply);

/* True when an update's field mask names field. */
bool svc_masked (char *const *mask, size_t count, const char *field);
#define SVC_MASKED(request, field) svc_masked ((request)->update_mask, (request)->n_update_mask, (field))

/* Calls another service's method through the broker from a handler, a consumer or a tick
   (any service thread; each thread keeps its own connection to the broker). The envelope
   carries caller "service:<this service>", role "service", the current request's id and now
   when there is one. Waits at most timeout_ms. On OK, *out is the unpacked reply (the caller
   frees it with protobuf_c_message_free_unpacked). Returns the reply's status: UNAVAILABLE
   when no worker answered, DEADLINE_EXCEEDED on timeout. */
Kaiin__Status svc_call (const char *method, const ProtobufCMessage *in,
                        const ProtobufCMessageDescriptor *out_descriptor, ProtobufCMessage **out,
                        int timeout_ms);

/* True once the process was asked to stop. */
int svc_interrupted (void);

#endif
