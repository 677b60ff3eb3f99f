/* outbox.c - domain events, appended in the caller's transaction and read back by sequence */
#include "outbox.h"
#include "log.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BATCH 1000

const pg_migration_t outbox_migrations [] = {
    { "000_outbox",
      "create table outbox ("
      "  id bigint generated always as identity primary key,"
      "  seq bigint unique,"
      "  event_id uuid not null default gen_random_uuid (),"
      "  type text not null,"
      "  aggregate_id text not null,"
      "  occurred_at timestamptz not null,"
      "  payload bytea not null);"
      "create index outbox_unsequenced on outbox (id) where seq is null;" },
    { NULL, NULL }
};

void
outbox_prepare (pg_t *db)
{
    pg_prepare (db, "outbox_append",
            "insert into outbox (type, aggregate_id, occurred_at, payload)"
            " values ($1, $2, to_timestamp ($3::bigint / 1000.0), decode ($4, 'hex'))");
    pg_prepare (db, "outbox_append_many",
            "insert into outbox (type, aggregate_id, occurred_at, payload)"
            " select e.type, e.aggregate_id, to_timestamp (e.at / 1000.0), decode (e.payload, 'hex')"
            " from unnest ($1::text [], $2::text [], $3::bigint [], $4::text []) with ordinality"
            "  as e (type, aggregate_id, at, payload, n) order by n");
    pg_prepare (db, "outbox_amend",
            "update outbox o set payload = o.payload || decode (p.patch, 'hex')"
            " from unnest ($2::text [], $3::text []) as p (aggregate_id, patch)"
            " where o.seq is null and o.aggregate_id = p.aggregate_id and starts_with (o.type, $1)");
    pg_prepare (db, "outbox_lock", "select pg_advisory_xact_lock (hashtext (current_schema () || '.outbox'))");
    pg_prepare (db, "outbox_sequence",
            "with todo as (select id, row_number () over (order by id) as n"
            "              from outbox where seq is null order by id limit 10000),"
            "     base as (select coalesce (max (seq), 0) as top from outbox)"
            " update outbox o set seq = base.top + todo.n from todo, base where o.id = todo.id");
    pg_prepare (db, "outbox_read",
            "select seq, event_id, type, aggregate_id,"
            "       (extract (epoch from occurred_at) * 1000)::bigint, encode (payload, 'hex')"
            " from outbox where seq > $1 order by seq limit $2");
    pg_prepare (db, "outbox_top", "select coalesce (max (seq), 0) from outbox");
}

/* Events held back by outbox_defer: their four columns as array literals being built. */
static __thread struct {
    bool on;
    size_t count;
    pg_buffer_t columns [4];
} s_deferred;

static void
s_deferred_clear (void)
{
    for (int i = 0; i < 4; i++) {
        free (s_deferred.columns [i].text);
        memset (&s_deferred.columns [i], 0, sizeof s_deferred.columns [i]);
    }
    s_deferred.count = 0;
}

void
outbox_defer (bool on)
{
    s_deferred_clear ();
    s_deferred.on = on;
}

/* Appends a quoted element to an array literal (types and ids need quoting; hex and digits not). */
static void
s_element (pg_buffer_t *column, const char *text)
{
    pg_buffer_append (column, column->used? ",\"": "{\"", 2);
    for (const char *c = text; *c; c++) {
        if (*c == '"' || *c == '\\')
            pg_buffer_append (column, "\\", 1);
        pg_buffer_append (column, c, 1);
    }
    pg_buffer_append (column, "\"", 1);
}

int
outbox_flush (pg_t *db)
{
    if (s_deferred.count == 0)
        return 0;
    for (int i = 0; i < 4; i++)
        pg_buffer_append (&s_deferred.columns [i], "}", 2);      /* with the NUL */
    const char *params [] = { s_deferred.columns [0].text, s_deferred.columns [1].text,
                              s_deferred.columns [2].text, s_deferred.columns [3].text };
    PGresult *result = pg_run (db, "outbox_append_many", 4, params);
    s_deferred_clear ();
    PQclear (result);
    return result? 0: -1;
}

char *
outbox_hex (const ProtobufCMessage *message)
{
    size_t size = protobuf_c_message_get_packed_size (message);
    uint8_t *packed = malloc (size + 1);
    char *hex = malloc (size * 2 + 1);
    assert (packed && hex);
    protobuf_c_message_pack (message, packed);
    for (size_t i = 0; i < size; i++)
        snprintf (hex + i * 2, 3, "%02x", packed [i]);
    hex [size * 2] = 0;
    free (packed);
    return hex;
}

int
outbox_amend (pg_t *db, const char *type_prefix, size_t count, const char *const *aggregate_ids,
              const ProtobufCMessage *const *patches)
{
    if (count == 0)
        return 0;
    pg_buffer_t ids = { 0 }, hexes = { 0 };
    for (size_t i = 0; i < count; i++) {
        char *hex = outbox_hex (patches [i]);
        s_element (&ids, aggregate_ids [i]);
        s_element (&hexes, hex);
        free (hex);
    }
    pg_buffer_append (&ids, "}", 2);    /* with the NUL */
    pg_buffer_append (&hexes, "}", 2);
    const char *params [] = { type_prefix, ids.text, hexes.text };
    int rc = pg_defer (db, "outbox_amend", 3, params);
    free (ids.text);
    free (hexes.text);
    return rc;
}

int
outbox_append (pg_t *db, const char *type, const char *aggregate_id,
               const ProtobufCMessage *payload, int64_t now_ms)
{
    char *hex = outbox_hex (payload);
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    int rc = 0;
    if (s_deferred.on) {
        s_element (&s_deferred.columns [0], type);
        s_element (&s_deferred.columns [1], aggregate_id);
        s_element (&s_deferred.columns [2], now);
        s_element (&s_deferred.columns [3], hex);
        s_deferred.count++;
    }
    else {
        const char *params [] = { type, aggregate_id, now, hex };
        rc = pg_defer (db, "outbox_append", 4, params);
    }
    free (hex);
    return rc;
}

static int
s_sequence (pg_t *db)
{
    PGresult *result = NULL;
    if (pg_begin (db) == -1)
        return -1;
    if (!(result = pg_run (db, "outbox_lock", 0, NULL)))
        goto fail;
    PQclear (result);
    if (!(result = pg_run (db, "outbox_sequence", 0, NULL)))
        goto fail;
    PQclear (result);
    return pg_commit (db);
fail:
    pg_rollback (db);
    return -1;
}

static int
s_hex_value (char c)
{
    return c <= '9'? c - '0': (c | 0x20) - 'a' + 10;
}

/* Reads up to max events after after_seq into reply. Returns the count, or -1. */
static int
s_read (pg_t *db, const char *source, int64_t after_seq, int max, Kaiin__EventsSinceReply *reply)
{
    char after [24], limit [12];
    snprintf (after, sizeof after, "%lld", (long long) after_seq);
    snprintf (limit, sizeof limit, "%d", max);
    const char *params [] = { after, limit };
    PGresult *result = pg_run (db, "outbox_read", 2, params);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    reply->events = calloc (rows? rows: 1, sizeof *reply->events);
    assert (reply->events);
    for (int row = 0; row < rows; row++) {
        Kaiin__Event *event = malloc (sizeof *event);
        assert (event);
        kaiin__event__init (event);
        event->seq = strtoll (PQgetvalue (result, row, 0), NULL, 10);
        event->id = strdup (PQgetvalue (result, row, 1));
        event->type = strdup (PQgetvalue (result, row, 2));
        event->source = strdup (source);
        event->aggregate_id = strdup (PQgetvalue (result, row, 3));
        event->occurred_at_ms = strtoll (PQgetvalue (result, row, 4), NULL, 10);
        const char *hex = PQgetvalue (result, row, 5);
        size_t size = strlen (hex) / 2;
        event->payload.data = malloc (size + 1);
        assert (event->payload.data);
        for (size_t i = 0; i < size; i++)
            event->payload.data [i] = (uint8_t) (s_hex_value (hex [2 * i]) << 4
                                               | s_hex_value (hex [2 * i + 1]));
        event->payload.len = size;
        reply->events [reply->n_events++] = event;
    }
    PQclear (result);
    return rows;
}

int
outbox_since (pg_t *db, const char *source, const Kaiin__EventsSinceRequest *request,
              Kaiin__EventsSinceReply *reply)
{
    int max = request->max <= 0? 100: request->max > MAX_BATCH? MAX_BATCH: request->max;
    int wait_ms = request->wait_ms < 0? 0: request->wait_ms > 30000? 30000: request->wait_ms;
    for (int waited = 0; ; waited += 20) {
        /* The sequencer runs only when the reader has had every numbered event: behind, a
           reader is served what is numbered, and numbering is done in fewer, larger runs
           (each run costs a walk over the index of rows numbered since the oldest open
           transaction began). */
        int rows = s_read (db, source, request->after_seq, max, reply);
        if (rows == 0) {
            free (reply->events);
            reply->events = NULL;
            rows = s_sequence (db) == -1? -1: s_read (db, source, request->after_seq, max, reply);
        }
        if (rows != 0 || waited >= wait_ms) {
            if (rows == -1)
                return -1;
            break;
        }
        free (reply->events);
        reply->events = NULL;
        nanosleep (&(struct timespec) { 0, 20 * 1000000 }, NULL);
    }
    PGresult *top = pg_run (db, "outbox_top", 0, NULL);
    if (!top)
        return -1;
    reply->last_seq = strtoll (PQgetvalue (top, 0, 0), NULL, 10);
    PQclear (top);
    return 0;
}

void
outbox_reply_clear (Kaiin__EventsSinceReply *reply)
{
    for (size_t i = 0; i < reply->n_events; i++) {
        Kaiin__Event *event = reply->events [i];
        free (event->id);
        free (event->type);
        free (event->source);
        free (event->aggregate_id);
        free (event->payload.data);
        free (event);
    }
    free (reply->events);
    reply->events = NULL;
    reply->n_events = 0;
}
