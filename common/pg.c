/* pg.c - one PostgreSQL connection per worker thread: prepared statements that survive a
   reconnect, transactions, and the migration runner */
#include "pg.h"
#include "clock.h"
#include "log.h"
#include <assert.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STATEMENTS 256
#define MAX_DEFERRED 256                /* results waiting stay well within the socket's buffers */

/* Time spent waiting on PostgreSQL by every connection of the process (pg_time). */
static uint64_t s_busy_us, s_statements;

static void
s_count (int64_t started_us)
{
    __atomic_add_fetch (&s_busy_us, (uint64_t) (clock_mono_us () - started_us), __ATOMIC_RELAXED);
    __atomic_add_fetch (&s_statements, 1, __ATOMIC_RELAXED);
}

void
pg_time (uint64_t *busy_us, uint64_t *statements)
{
    *busy_us = __atomic_load_n (&s_busy_us, __ATOMIC_RELAXED);
    *statements = __atomic_load_n (&s_statements, __ATOMIC_RELAXED);
}

struct _pg_t {
    PGconn *conn;
    char *url;
    char *schema;
    char sqlstate [6];
    int depth;                      /* pg_begin nesting: only the outermost one is real */
    int part_depth;                 /* the nesting at pg_part_begin */
    bool failed;                    /* an inner pg_rollback doomed the outer transaction */
    int statement_count;
    int prepared;                   /* how many of them, from the first, conn has */
    bool pipeline;                  /* in libpq's pipeline mode: pg_defer sent statements */
    int deferred;                   /* how many, their results not read yet */
    struct { char *name; char *sql; } statements [MAX_STATEMENTS];
};

/* Prepares the statements remembered since the last call, all in one round trip (libpq's
   pipeline mode). A connection holds every statement or is closed: one the server refused (a
   schema that did not match for a moment: a restore, a migration by hand) would otherwise
   answer 26000 to each use for the connection's life; closed, the next pg_ensure connects and
   prepares all. */
static int
s_prepare_pending (pg_t *self)
{
    if (self->prepared == self->statement_count)
        return 0;
    bool sent = PQenterPipelineMode (self->conn) == 1;
    for (int i = self->prepared; sent && i < self->statement_count; i++)
        sent = PQsendPrepare (self->conn, self->statements [i].name, self->statements [i].sql,
                              0, NULL) == 1;
    sent = sent && PQpipelineSync (self->conn) == 1;
    int refused = -1;
    char message [512] = "";
    for (int i = self->prepared; sent && refused == -1 && i < self->statement_count; i++) {
        PGresult *result = PQgetResult (self->conn);
        if (PQresultStatus (result) != PGRES_COMMAND_OK) {
            refused = i;
            snprintf (message, sizeof message, "%s",
                      result? PQresultErrorMessage (result): PQerrorMessage (self->conn));
        }
        PQclear (result);
        if (result)
            PQclear (PQgetResult (self->conn));     /* the end of this statement's results */
    }
    PGresult *sync = sent && refused == -1? PQgetResult (self->conn): NULL;
    bool done = PQresultStatus (sync) == PGRES_PIPELINE_SYNC && PQexitPipelineMode (self->conn) == 1;
    PQclear (sync);
    if (done) {
        self->prepared = self->statement_count;
        return 0;
    }
    if (refused == -1)
        snprintf (message, sizeof message, "%s", PQerrorMessage (self->conn));
    message [strcspn (message, "\n")] = 0;
    log_error ("cannot prepare '%s': %s",
               self->statements [refused == -1? self->prepared: refused].name, message);
    PQfinish (self->conn);
    self->conn = NULL;
    return -1;
}

/* Server notices ("relation already exists, skipping") go to the log, not raw to stderr. */
static void
s_notice (void *arg, const char *message)
{
    (void) arg;
    char line [512];
    snprintf (line, sizeof line, "%s", message);
    line [strcspn (line, "\n")] = 0;
    log_debug ("postgresql: %s", line);
}

static int
s_connect (pg_t *self)
{
    if (self->conn)
        PQfinish (self->conn);
    /* Bounded waits: a server that vanished (a stopped container, a cut network) must cost a
       request a few seconds at most, never the kernel's TCP timeouts; a server that is there
       but busy (a new backend forks and authenticates) gets 4 s to take the connection. */
    const char *keys [] = { "dbname", "connect_timeout", "tcp_user_timeout", "keepalives_idle",
                            "keepalives_interval", "keepalives_count", NULL };
    const char *values [] = { self->url, "4", "1500", "5", "1", "2", NULL };
    self->conn = PQconnectdbParams (keys, values, 1);
    PQsetNoticeProcessor (self->conn, s_notice, NULL);
    if (PQstatus (self->conn) != CONNECTION_OK) {
        char message [512];
        snprintf (message, sizeof message, "%s", PQerrorMessage (self->conn));
        message [strcspn (message, "\n")] = 0;
        return log_error ("cannot connect to PostgreSQL for schema '%s': %s", self->schema, message);
    }
    char sql [160];
    snprintf (sql, sizeof sql, "set search_path = \"%s\"", self->schema);
    PGresult *result = PQexec (self->conn, sql);
    bool ok = PQresultStatus (result) == PGRES_COMMAND_OK;
    PQclear (result);
    if (!ok)
        return log_error ("cannot set the search path to '%s'", self->schema);
    self->prepared = 0;
    self->pipeline = false;
    self->deferred = 0;
    return s_prepare_pending (self);
}

pg_t *
pg_new (const char *url, const char *schema)
{
    pg_t *self = calloc (1, sizeof *self);
    assert (self);
    self->url = strdup (url);
    self->schema = strdup (schema);
    s_connect (self);
    return self;
}

void
pg_destroy (pg_t **self_p)
{
    pg_t *self = *self_p;
    if (!self)
        return;
    PQfinish (self->conn);
    for (int i = 0; i < self->statement_count; i++) {
        free (self->statements [i].name);
        free (self->statements [i].sql);
    }
    free (self->url);
    free (self->schema);
    free (self);
    *self_p = NULL;
}

void
pg_prepare (pg_t *self, const char *name, const char *sql)
{
    assert (self->statement_count < MAX_STATEMENTS);
    int index = self->statement_count++;
    self->statements [index].name = strdup (name);
    self->statements [index].sql = strdup (sql);
}

int
pg_ensure (pg_t *self)
{
    if (PQstatus (self->conn) == CONNECTION_OK)
        return s_prepare_pending (self);
    log_warn ("PostgreSQL connection for schema '%s' lost, reconnecting", self->schema);
    return s_connect (self);
}

static void
s_note_error (pg_t *self, PGresult *result)
{
    const char *state = result? PQresultErrorField (result, PG_DIAG_SQLSTATE): NULL;
    snprintf (self->sqlstate, sizeof self->sqlstate, "%s",
              state? state: PQstatus (self->conn) == CONNECTION_OK? "XX000": "08006");
}

/* A connection found dead by a command sent outside a transaction (a "begin", a read) is
   reconnected and the command sent once more: nothing can have happened on the server, so
   the first request after a PostgreSQL restart succeeds instead of failing. */
static bool
s_retry (pg_t *self, bool was_idle)
{
    if (!was_idle || !pg_lost (self))
        return false;
    log_warn ("PostgreSQL connection for schema '%s' lost, reconnecting", self->schema);
    return s_connect (self) == 0;
}

/* Whether result is a statement's success; if not, its error is noted and it is cleared. */
static bool
s_succeeded (pg_t *self, PGresult *result)
{
    ExecStatusType status = PQresultStatus (result);
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)
        return true;
    s_note_error (self, result);
    PQclear (result);
    return false;
}

/* Reads the results of the statements pg_defer sent, and leaves pipeline mode. Returns 0, or
   -1 when one failed (its error noted: the transaction is then aborted) or the connection
   did (then closed, for pg_ensure to connect again). */
static int
s_settle (pg_t *self)
{
    if (!self->pipeline)
        return 0;
    int64_t started_us = clock_mono_us ();
    bool failed = false, sane = PQpipelineSync (self->conn) == 1;
    for (int i = 0; sane && i < self->deferred; i++) {
        PGresult *result = PQgetResult (self->conn);
        ExecStatusType status = PQresultStatus (result);
        sane = result != NULL;
        if (sane && status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && !failed) {
            failed = true;
            s_note_error (self, result);
            if (status != PGRES_PIPELINE_ABORTED && strcmp (self->sqlstate, "23505") != 0)
                log_error ("a deferred statement failed: %s", PQresultErrorMessage (result));
        }
        PQclear (result);
        if (sane)
            PQclear (PQgetResult (self->conn));     /* the end of this statement's results */
    }
    PGresult *sync = sane? PQgetResult (self->conn): NULL;
    sane = PQresultStatus (sync) == PGRES_PIPELINE_SYNC && PQexitPipelineMode (self->conn) == 1;
    PQclear (sync);
    s_count (started_us);
    self->pipeline = false;
    self->deferred = 0;
    if (sane)
        return failed? -1: 0;
    char message [512];
    snprintf (message, sizeof message, "%s", PQerrorMessage (self->conn));
    message [strcspn (message, "\n")] = 0;
    log_error ("the deferred statements of schema '%s' were lost: %s", self->schema, message);
    snprintf (self->sqlstate, sizeof self->sqlstate, "08006");
    PQfinish (self->conn);
    self->conn = NULL;
    return -1;
}

int
pg_defer (pg_t *self, const char *name, int count, const char *const *params)
{
    if (self->deferred >= MAX_DEFERRED && s_settle (self) == -1)
        return -1;
    if (!self->pipeline) {
        if (PQenterPipelineMode (self->conn) != 1)
            return pg_do (self, name, count, params);
        self->pipeline = true;
    }
    int64_t started_us = clock_mono_us ();
    bool sent = PQsendQueryPrepared (self->conn, name, count, params, NULL, NULL, 0) == 1
             && PQflush (self->conn) == 0;
    s_count (started_us);
    if (!sent) {
        log_error ("statement '%s' could not be sent: %s", name, PQerrorMessage (self->conn));
        s_settle (self);
        return -1;
    }
    self->deferred++;
    return 0;
}

PGresult *
pg_run (pg_t *self, const char *name, int count, const char *const *params)
{
    if (s_settle (self) == -1)
        return NULL;
    bool was_idle = PQtransactionStatus (self->conn) == PQTRANS_IDLE;
    for (int attempt = 0; attempt < 2; attempt++) {
        self->sqlstate [0] = 0;
        int64_t started_us = clock_mono_us ();
        PGresult *result = PQexecPrepared (self->conn, name, count, params, NULL, NULL, 0);
        s_count (started_us);
        if (s_succeeded (self, result))
            return result;
        if (attempt == 0 && s_retry (self, was_idle))
            continue;
        if (!pg_lost (self) && strcmp (self->sqlstate, "23505") != 0)
            log_error ("statement '%s' failed: %s", name, PQerrorMessage (self->conn));
        break;
    }
    return NULL;
}

int
pg_send (pg_t *self, const char *name, int count, const char *const *params)
{
    if (s_settle (self) == -1)
        return -1;
    self->sqlstate [0] = 0;
    if (PQsendQueryPrepared (self->conn, name, count, params, NULL, NULL, 0) == 1)
        return 0;
    log_error ("statement '%s' could not be sent: %s", name, PQerrorMessage (self->conn));
    return -1;
}

PGresult *
pg_wait (pg_t *self)
{
    int64_t started_us = clock_mono_us ();
    PGresult *result = PQgetResult (self->conn), *end;
    while ((end = PQgetResult (self->conn)))   /* until the NULL that ends the statement */
        PQclear (end);
    s_count (started_us);
    if (s_succeeded (self, result))
        return result;
    if (!pg_lost (self))
        log_error ("a statement sent earlier failed: %s", PQerrorMessage (self->conn));
    return NULL;
}

bool
pg_ready (pg_t *self)
{
    return PQconsumeInput (self->conn) == 0 || PQisBusy (self->conn) == 0;
}

int
pg_do (pg_t *self, const char *name, int count, const char *const *params)
{
    PGresult *result = pg_run (self, name, count, params);
    PQclear (result);
    return result? 0: -1;
}

int
pg_exec (pg_t *self, const char *sql)
{
    if (s_settle (self) == -1)
        return -1;
    bool was_idle = PQtransactionStatus (self->conn) == PQTRANS_IDLE;
    for (int attempt = 0; attempt < 2; attempt++) {
        self->sqlstate [0] = 0;
        int64_t started_us = clock_mono_us ();
        PGresult *result = PQexec (self->conn, sql);
        s_count (started_us);
        ExecStatusType status = PQresultStatus (result);
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
            PQclear (result);
            return 0;
        }
        s_note_error (self, result);
        PQclear (result);
        if (attempt == 0 && s_retry (self, was_idle))
            continue;
        if (!pg_lost (self))
            log_error ("'%.60s' failed: %s", sql, PQerrorMessage (self->conn));
        break;
    }
    return -1;
}

int
pg_begin (pg_t *self)
{
    if (self->depth++ > 0)
        return 0;
    self->failed = false;
    if (pg_exec (self, "begin") == 0)
        return 0;
    self->depth = 0;
    return -1;
}

int
pg_commit (pg_t *self)
{
    assert (self->depth > 0);
    /* A failed commit leaves the nesting as it was: the caller's pg_rollback unwinds it. */
    if (self->failed)
        return -1;
    if (self->depth > 1) {
        self->depth--;
        return 0;
    }
    /* Writes deferred still in flight: the commit follows them down the pipeline, so that
       they and it cost one round trip (a transaction holding a hot row's lock, such as a
       number series', holds it for the server's work and one flush, not for a wait more). */
    if (self->pipeline) {
        bool sent = PQsendQueryParams (self->conn, "commit", 0, NULL, NULL, NULL, NULL, 0) == 1
                 && PQflush (self->conn) == 0;
        if (sent)
            self->deferred++;
        if (s_settle (self) == -1 || !sent)
            return -1;
    }
    else
    if (pg_exec (self, "commit") == -1)
        return -1;
    self->depth = 0;
    return 0;
}

void
pg_rollback (pg_t *self)
{
    if (self->depth == 0)
        return;
    if (--self->depth > 0)
        self->failed = true;
    else {
        s_settle (self);                /* whatever failed there: rolled back below */
        pg_exec (self, "rollback");
    }
}

void
pg_end_request (pg_t *self)
{
    s_settle (self);
    if (PQstatus (self->conn) == CONNECTION_OK && PQtransactionStatus (self->conn) != PQTRANS_IDLE)
        pg_exec (self, "rollback");
    self->depth = 0;
    self->failed = false;
}

int
pg_part_begin (pg_t *self)
{
    assert (self->depth > 0);
    if (self->failed)
        return -1;                      /* doomed (its connection was lost): no part can commit */
    self->part_depth = self->depth;
    return pg_exec (self, "savepoint kaiin_part");
}

bool
pg_part_end (pg_t *self, bool keep)
{
    /* A deferred write of the part that failed fails the part (its connection alive, the
       savepoint is there to roll back to). */
    keep = s_settle (self) == 0 && keep && !self->failed && self->depth == self->part_depth
        && PQtransactionStatus (self->conn) == PQTRANS_INTRANS;
    if (!self->conn || pg_exec (self, keep? "release savepoint kaiin_part": "rollback to savepoint kaiin_part") == -1) {
        self->failed = true;            /* the connection is gone: the whole transaction is */
        keep = false;
    }
    else
        self->failed = false;
    self->depth = self->part_depth;
    return keep;
}

int
pg_copy (pg_t *self, const char *copy_sql, const char *data, size_t size)
{
    if (s_settle (self) == -1)
        return -1;
    self->sqlstate [0] = 0;
    PGresult *result = PQexec (self->conn, copy_sql);
    if (PQresultStatus (result) != PGRES_COPY_IN) {
        s_note_error (self, result);
        PQclear (result);
        return log_error ("'%.60s' failed: %s", copy_sql, PQerrorMessage (self->conn));
    }
    PQclear (result);
    int rc = PQputCopyData (self->conn, data, (int) size) == 1 && PQputCopyEnd (self->conn, NULL) == 1? 0: -1;
    while ((result = PQgetResult (self->conn))) {
        if (PQresultStatus (result) != PGRES_COMMAND_OK) {
            s_note_error (self, result);
            rc = -1;
        }
        PQclear (result);
    }
    if (rc == -1 && strcmp (self->sqlstate, "23505") != 0)
        log_error ("'%.60s' failed: %s", copy_sql, PQerrorMessage (self->conn));
    return rc;
}

void
pg_copy_field (pg_buffer_t *buffer, const char *text, bool last)
{
    if (!text)
        pg_buffer_append (buffer, "\\N", 2);
    else
        for (const char *span = text; *span; ) {
            size_t plain = strcspn (span, "\\\t\n\r");
            pg_buffer_append (buffer, span, plain);
            span += plain;
            if (!*span)
                break;
            const char *escape = *span == '\\'? "\\\\": *span == '\t'? "\\t": *span == '\n'? "\\n": "\\r";
            pg_buffer_append (buffer, escape, 2);
            span++;
        }
    pg_buffer_append (buffer, last? "\n": "\t", 1);
}

void
pg_buffer_append (pg_buffer_t *buffer, const char *bytes, size_t size)
{
    if (buffer->used + size + 1 > buffer->size) {
        while (buffer->used + size + 1 > buffer->size)
            buffer->size = buffer->size? buffer->size * 2: 65536;
        buffer->text = realloc (buffer->text, buffer->size);
        assert (buffer->text);
    }
    memcpy (buffer->text + buffer->used, bytes, size);
    buffer->used += size;
    buffer->text [buffer->used] = 0;
}

void
pg_array_add (pg_buffer_t *array, const char *text, bool quoted)
{
    pg_buffer_append (array, array->used? ",": "{", 1);
    if (!quoted) {
        pg_buffer_append (array, text, strlen (text));
        return;
    }
    pg_buffer_append (array, "\"", 1);
    for (const char *c = text; *c; c++) {
        if (*c == '"' || *c == '\\')
            pg_buffer_append (array, "\\", 1);
        pg_buffer_append (array, c, 1);
    }
    pg_buffer_append (array, "\"", 1);
}

PGresult *
pg_run_arrays (pg_t *self, const char *name, pg_buffer_t *arrays, int count, const char *last)
{
    const char *params [count + 1];
    for (int i = 0; i < count; i++) {
        pg_array_close (&arrays [i]);
        params [i] = arrays [i].text;
    }
    params [count] = last;
    PGresult *result = pg_run (self, name, last? count + 1: count, params);
    for (int i = 0; i < count; i++) {
        free (arrays [i].text);
        memset (&arrays [i], 0, sizeof arrays [i]);
    }
    return result;
}

void
pg_array_close (pg_buffer_t *array)
{
    if (array->used)
        pg_buffer_append (array, "}", 1);
    else
        pg_buffer_append (array, "{}", 2);
}

const char *
pg_sqlstate (pg_t *self)
{
    return self->sqlstate;
}

bool
pg_lost (pg_t *self)
{
    return PQstatus (self->conn) != CONNECTION_OK
        || (strncmp (self->sqlstate, "08", 2) == 0     /* connection exception, */
            && strcmp (self->sqlstate, "08P01") != 0)   /* not a protocol misuse of ours */
        || strncmp (self->sqlstate, "57P", 3) == 0;   /* admin shutdown, crash shutdown */
}

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

static char *
s_read_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    char *text = malloc (size + 1);
    assert (text);
    if (fread (text, 1, size, file) != (size_t) size) {
        free (text);
        text = NULL;
    }
    else
        text [size] = 0;
    fclose (file);
    return text;
}

/* Applies one migration in its own transaction unless its version is recorded already. */
static int
s_apply (pg_t *db, const char *version, const char *sql)
{
    const char *params [] = { version };
    PGresult *seen = PQexecParams (db->conn, "select 1 from schema_migrations where version = $1",
                                   1, NULL, params, NULL, NULL, 0);
    int applied = PQresultStatus (seen) == PGRES_TUPLES_OK? PQntuples (seen): -1;
    PQclear (seen);
    if (applied != 0)
        return applied == 1? 0: log_error ("cannot read schema_migrations of '%s'", db->schema);
    if (pg_exec (db, "begin") == -1 || pg_exec (db, sql) == -1)
        goto fail;
    PGresult *record = PQexecParams (db->conn, "insert into schema_migrations (version) values ($1)",
                                     1, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus (record) == PGRES_COMMAND_OK;
    PQclear (record);
    if (!ok || pg_exec (db, "commit") == -1)
        goto fail;
    log_info ("applied migration '%s' to schema '%s'", version, db->schema);
    return 0;
fail:
    pg_exec (db, "rollback");
    return log_error ("migration '%s' of schema '%s' failed", version, db->schema);
}

int
pg_migrate (const char *url, const char *schema, const pg_migration_t *builtin, const char *dir)
{
    pg_t *db = pg_new (url, schema);
    int rc = -1;
    char **names = NULL;
    int count = 0;
    char sql [256];
    snprintf (sql, sizeof sql, "select pg_advisory_lock (hashtext ('kaiin.migrate.%s'))", schema);
    if (pg_ensure (db) == -1
    ||  pg_exec (db, sql) == -1
    ||  pg_exec (db, "create table if not exists schema_migrations (version text primary key,"
                     " applied_at timestamptz not null default now ())") == -1)
        goto done;
    for (const pg_migration_t *migration = builtin; migration && migration->version; migration++)
        if (s_apply (db, migration->version, migration->sql) == -1)
            goto done;

    DIR *folder = opendir (dir);
    if (!folder) {
        log_error ("cannot open migrations folder '%s'", dir);
        goto done;
    }
    struct dirent *entry;
    while ((entry = readdir (folder))) {
        size_t length = strlen (entry->d_name);
        if (length > 4 && strcmp (entry->d_name + length - 4, ".sql") == 0) {
            names = realloc (names, (count + 1) * sizeof *names);
            names [count++] = strdup (entry->d_name);
        }
    }
    closedir (folder);
    qsort (names, count, sizeof *names, s_compare_names);
    for (int i = 0; i < count; i++) {
        char path [1024];
        snprintf (path, sizeof path, "%s/%s", dir, names [i]);
        char *text = s_read_file (path);
        if (!text) {
            log_error ("cannot read migration '%s'", path);
            goto done;
        }
        names [i][strlen (names [i]) - 4] = 0;     /* the version is the name without .sql */
        int applied = s_apply (db, names [i], text);
        free (text);
        if (applied == -1)
            goto done;
    }
    rc = 0;
done:
    for (int i = 0; i < count; i++)
        free (names [i]);
    free (names);
    pg_destroy (&db);
    return rc;
}
