/* svc.h - a service's runtime: configuration, migrations, worker threads each with its own
   PostgreSQL connection, the method table, replies with field-level errors */
#ifndef KAIIN_SVC_H
#define KAIIN_SVC_H
#include "envelope.pb-c.h"
#include "pg.h"
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
    size_t error_count;
    struct { char field [64]; char reason [192]; } errors [SVC_MAX_FIELD_ERRORS];
    uint8_t *payload;                 /* owned: packed reply message */
    size_t payload_size;
} svc_reply_t;

/* A handler validates, does the work and fills reply. Returns 0, or -1 after setting an error. */
typedef int (svc_handler_fn) (svc_request_t *request, svc_reply_t *reply);

typedef struct {
    const char *method;               /* "Create": served as "<service>.Create" */
    svc_handler_fn *handler;
} svc_method_t;

typedef struct {
    const char *name;                 /* the service, its schema, and its settings' prefix */
    const svc_method_t *methods;      /* ends with { NULL, NULL } */
    int (*prepare) (pg_t *db);        /* prepares the service's statements on a connection */
} svc_def_t;

/* Runs the service until SIGTERM or SIGINT: reads <NAME>_PG_URL, <NAME>_PG_OWNER_URL,
   <NAME>_WORKERS, <NAME>_MIGRATIONS and KAIIN_BROKER_ENDPOINT, applies migrations, serves
   requests on worker threads, and lets in-flight requests finish on the way out. Every service
   also serves "<name>.EventsSince" from its outbox. With the argument "--healthcheck" it only
   says (exit 0 or 1) whether the running service is connected to the broker and its database.
   Returns main's exit code. */
int svc_main (const svc_def_t *def, int argc, char **argv);

/* Sets an error status with a message. Returns -1. */
int svc_fail (svc_reply_t *reply, Kaiin__Status status, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Adds a field error and sets INVALID_ARGUMENT (or keeps another error status already set). */
void svc_field_error (svc_reply_t *reply, const char *field, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Fails the reply after a database error: UNAVAILABLE when the connection was lost, else
   INTERNAL. Returns -1. */
int svc_db_fail (svc_reply_t *reply, pg_t *db);

/* Packs message as the reply's payload with status OK. Returns 0. */
int svc_reply_with (svc_reply_t *reply, const ProtobufCMessage *message);

/* Unpacks the request's payload as descriptor's message; on garbage sets INVALID_ARGUMENT and
   returns NULL. The caller frees with protobuf_c_message_free_unpacked. */
ProtobufCMessage *svc_unpack (svc_request_t *request, const ProtobufCMessageDescriptor *descriptor,
                              svc_reply_t *reply);

/* True when an update's field mask names field. */
bool svc_masked (char *const *mask, size_t count, const char *field);
#define SVC_MASKED(request, field) svc_masked ((request)->update_mask, (request)->n_update_mask, (field))

/* True once the process was asked to stop. */
int svc_interrupted (void);

#endif
