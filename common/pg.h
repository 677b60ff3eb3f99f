/* pg.h - one PostgreSQL connection per worker thread: prepared statements that survive a
   reconnect, transactions, and the migration runner */
#ifndef KAIIN_PG_H
#define KAIIN_PG_H
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _pg_t pg_t;

/* Connects to url with search_path set to schema. Never NULL: when the server cannot be
   reached (logged), pg_ensure connects later. */
pg_t *pg_new (const char *url, const char *schema);
void pg_destroy (pg_t **self_p);

/* Records a named statement; nothing is sent. The next pg_ensure prepares every statement
   recorded since in one round trip, and each reconnect prepares them all again; a statement
   the server refuses fails that pg_ensure (logged), which closes the connection. */
void pg_prepare (pg_t *self, const char *name, const char *sql);

/* Makes sure the connection is up and holds every statement remembered, reconnecting and
   re-preparing if it was lost. Returns 0, or -1 while the server cannot be reached or refuses
   a statement. */
int pg_ensure (pg_t *self);

/* What the process's connections spent waiting on PostgreSQL for pg_run and pg_exec, since it
   started: the time in microseconds and the statements sent (a service's metrics). */
void pg_time (uint64_t *busy_us, uint64_t *statements);

/* Runs a prepared statement with text parameters (NULL is SQL NULL). Returns the result,
   which the caller PQclears, or NULL on error: then pg_sqlstate says which. A statement run
   outside a transaction that finds the connection dead is sent again once on a new one, so
   writes belong inside begin/commit (where nothing is retried). */
PGresult *pg_run (pg_t *self, const char *name, int count, const char *const *params);

/* Sends a prepared statement without waiting for it, so that the caller works on while the
   server runs it (and, outside a transaction, commits it); pg_wait then reads its result.
   Nothing else may run on self in between, and nothing is sent again on a lost connection.
   Returns 0 or -1. */
int pg_send (pg_t *self, const char *name, int count, const char *const *params);

/* The result of the statement pg_send sent, which the caller PQclears, or NULL on error: then
   pg_sqlstate says which. */
PGresult *pg_wait (pg_t *self);

/* Whether pg_wait would return without waiting: the result of the statement pg_send sent has
   arrived (what the server sent meanwhile is read, nothing is waited for). True also when the
   connection failed: pg_wait then returns NULL. */
bool pg_ready (pg_t *self);

/* pg_run for a statement whose result is not needed (an insert, an update). Returns 0, or -1
   on error: then pg_sqlstate says which. */
int pg_do (pg_t *self, const char *name, int count, const char *const *params);

/* pg_do without waiting: sends the statement (libpq's pipeline mode) and returns, so that
   statements whose results are not needed cost no round trip each. The server runs them in
   the order sent; the next pg_run, pg_exec, pg_send or pg_copy on self (a commit, a read)
   first reads their results, and fails (-1 or NULL) when one of them failed, with pg_sqlstate
   its error. So a deferred write belongs inside begin/commit, like any write. Returns 0, or -1
   when it could not be sent. */
int pg_defer (pg_t *self, const char *name, int count, const char *const *params);

/* Runs a plain command (begin, commit, ...). Returns 0 or -1. */
int pg_exec (pg_t *self, const char *sql);

/* Transactions that nest flatly: only the outermost pg_begin and pg_commit reach the server,
   so a store function that opens its own transaction also runs inside a caller's (a bulk
   import) as one part of it. An inner pg_rollback dooms the outer transaction: every later
   pg_commit returns -1. After a pg_commit that returns -1, call pg_rollback, as after any
   failure; it unwinds one level. pg_begin and pg_commit return 0 or -1. */
int pg_begin (pg_t *self);
int pg_commit (pg_t *self);
void pg_rollback (pg_t *self);

/* After a request: rolls back whatever a handler left open, and forgets the nesting. */
void pg_end_request (pg_t *self);

/* One part of an open transaction that may fail alone (a group commit's requests): a
   savepoint, then pg_part_end keeps the part (releases the savepoint) when keep and nothing in
   it failed, else rolls back to the savepoint, as if the part never ran; either way the
   nesting and the doom an inner pg_rollback set are back to what they were at pg_part_begin.
   pg_part_begin returns 0, or -1 when the savepoint cannot be made or the transaction is
   doomed (a part before lost the connection: the commit will fail, nothing of it is kept).
   pg_part_end returns whether the part was kept: false also when keep was true but one of its
   deferred statements (pg_defer) failed, or the connection was lost. */
int pg_part_begin (pg_t *self);
bool pg_part_end (pg_t *self, bool keep);

/* A growing text buffer, for COPY data. Free text when done. */
typedef struct {
    char *text;
    size_t size, used;
} pg_buffer_t;

void pg_buffer_append (pg_buffer_t *buffer, const char *bytes, size_t size);

/* Appends one element to an array literal being built in array (its "{" first): as it is
   (numbers, uuids, NULL), or quoted and escaped (any text). */
void pg_array_add (pg_buffer_t *array, const char *text, bool quoted);

/* Closes the array literal: "}" ("{}" when it has no element), its text ready as a parameter. */
void pg_array_close (pg_buffer_t *array);

/* Runs the prepared statement name with count array literals being built (closed here) as
   its first parameters and last as the one after them (NULL: none), then frees the arrays'
   text (they may be built again). The result as pg_run's. */
PGresult *pg_run_arrays (pg_t *self, const char *name, pg_buffer_t *arrays, int count, const char *last);

/* Appends one field in COPY's text format (NULL is SQL NULL), then a tab, or a newline when
   last. */
void pg_copy_field (pg_buffer_t *buffer, const char *text, bool last);

/* Runs copy_sql ("copy t (a, b) from stdin") with data, rows in COPY's text format.
   Returns 0 or -1 (pg_sqlstate says which). Inside a transaction like any statement. */
int pg_copy (pg_t *self, const char *copy_sql, const char *data, size_t size);

/* The SQLSTATE of the last error ("23505" unique violation ...), or "" when there was none. */
const char *pg_sqlstate (pg_t *self);

/* True when the last error was the connection's (server gone, restarted, network). */
bool pg_lost (pg_t *self);

/* One migration compiled into a binary (the outbox's, shared by every service). */
typedef struct {
    const char *version;
    const char *sql;
} pg_migration_t;

/* Applies, in order and once each, the builtin migrations and then dir's NNN_*.sql files to
   schema, as the schema's owner (url). Versions applied are recorded in
   <schema>.schema_migrations; concurrent runners wait on an advisory lock. Returns 0 or -1. */
int pg_migrate (const char *url, const char *schema, const pg_migration_t *builtin,
                const char *dir);

#endif
