/* svc_metrics.c - <name>.Prometheus: what this service process counts (requests by method and
   status, time in handlers and in PostgreSQL, workers busy) and what its data says (events
   written by type, consumer positions, the service's own gauges), as Prometheus text */
#include "svc_internal.h"
#include "clock.h"
#include "metrics.pb-c.h"
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS 128                   /* the service's methods, then the runtime's three */
#define STATUS_SLOTS 17                 /* Kaiin__Status runs from 0 to 16 */
static const char *const s_runtime_methods [] = { "EventsSince", "ClockSet", "Prometheus" };

static const svc_def_t *s_def;
static char s_process [96];
static int s_workers;
static int s_method_count;
static uint64_t s_requests [MAX_SLOTS][STATUS_SLOTS];
static uint64_t s_handler_us [MAX_SLOTS];
static int s_busy;

/* The statements of the runtime's figures of the service's data: (label's value, number). */
static const svc_gauge_t s_data [] = {
    { "kaiin_events_total", "Events the service wrote to its outbox, by type: what it did "
      "(member.registered, invoice.paid, message.sent ...).", "type",
      "select type, count (*) from outbox group by type order by type" },
    { "kaiin_outbox_seq", "The sequence of the last event its consumers can read.", NULL,
      "select coalesce (max (seq), 0) from outbox" },
    { "kaiin_consumer_position", "The last event of each source this service has applied "
      "(the source's kaiin_outbox_seq minus this is how far behind it is).", "source",
      "select source, seq from consumer_positions order by source" },
    { NULL, NULL, NULL, NULL }
};

void
svc_metrics_init (const svc_def_t *def, const char *process, int workers)
{
    s_def = def;
    snprintf (s_process, sizeof s_process, "%s", process);
    s_workers = workers;
    s_method_count = 0;
    for (; def->methods [s_method_count].method; s_method_count++)
        for (int i = 0; i < 3; i++)      /* the runtime's names are taken */
            assert (strcmp (def->methods [s_method_count].method, s_runtime_methods [i]) != 0);
    assert (s_method_count + 3 <= MAX_SLOTS);
}

int
svc_metrics_slot (const svc_method_t *entry, const char *method)
{
    if (!s_def)
        return -1;
    if (entry && entry->method)
        return (int) (entry - s_def->methods);
    for (int i = 0; i < 3; i++)
        if (strcmp (method, s_runtime_methods [i]) == 0)
            return s_method_count + i;
    return -1;
}

void
svc_metrics_busy (int change)
{
    __atomic_add_fetch (&s_busy, change, __ATOMIC_RELAXED);
}

void
svc_metrics_count (int slot, Kaiin__Status status, int64_t elapsed_us)
{
    if (slot < 0 || (int) status < 0 || (int) status >= STATUS_SLOTS)
        return;
    __atomic_add_fetch (&s_requests [slot][status], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch (&s_handler_us [slot], (uint64_t) (elapsed_us > 0? elapsed_us: 0), __ATOMIC_RELAXED);
}

static void __attribute__ ((format (printf, 2, 3)))
s_line (pg_buffer_t *out, const char *fmt, ...)
{
    char line [512];
    va_list args;
    va_start (args, fmt);
    int length = vsnprintf (line, sizeof line, fmt, args);
    va_end (args);
    if (length > 0)
        pg_buffer_append (out, line, (size_t) length < sizeof line? (size_t) length: sizeof line - 1);
}

static void
s_family (pg_buffer_t *out, const char *name, const char *type, const char *help)
{
    s_line (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *
s_method_name (int slot)
{
    return slot < s_method_count? s_def->methods [slot].method: s_runtime_methods [slot - s_method_count];
}

static void
s_process_figures (pg_buffer_t *out)
{
    const char *service = s_def->name;
    s_family (out, "kaiin_service_requests_total", "counter",
              "Requests this process answered, by method and status.");
    for (int slot = 0; slot < s_method_count + 3; slot++)
        for (int status = 0; status < STATUS_SLOTS; status++) {
            uint64_t n = __atomic_load_n (&s_requests [slot][status], __ATOMIC_RELAXED);
            const ProtobufCEnumValue *value = protobuf_c_enum_descriptor_get_value (&kaiin__status__descriptor, status);
            if (n && value)
                s_line (out, "kaiin_service_requests_total{service=\"%s\",process=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
                        service, s_process, s_method_name (slot), value->name, (unsigned long long) n);
        }
    s_family (out, "kaiin_service_request_seconds_total", "counter",
              "Time this process spent on each method's requests, from taking one to answering it.");
    for (int slot = 0; slot < s_method_count + 3; slot++) {
        uint64_t us = __atomic_load_n (&s_handler_us [slot], __ATOMIC_RELAXED);
        if (us)
            s_line (out, "kaiin_service_request_seconds_total{service=\"%s\",process=\"%s\",method=\"%s\"} %.6f\n",
                    service, s_process, s_method_name (slot), (double) us / 1e6);
    }
    uint64_t db_us, statements;
    pg_time (&db_us, &statements);
    s_family (out, "kaiin_service_database_seconds_total", "counter",
              "Time this process's threads waited on PostgreSQL (requests, consumers, scheduled work).");
    s_line (out, "kaiin_service_database_seconds_total{service=\"%s\",process=\"%s\"} %.6f\n",
            service, s_process, (double) db_us / 1e6);
    s_family (out, "kaiin_service_database_statements_total", "counter",
              "Statements this process sent to PostgreSQL.");
    s_line (out, "kaiin_service_database_statements_total{service=\"%s\",process=\"%s\"} %llu\n",
            service, s_process, (unsigned long long) statements);
    s_family (out, "kaiin_service_workers", "gauge", "Worker threads of this process taking any request.");
    s_line (out, "kaiin_service_workers{service=\"%s\",process=\"%s\"} %d\n", service, s_process, s_workers);
    s_family (out, "kaiin_service_workers_busy", "gauge",
              "Worker threads of this process serving a request now (this one included).");
    s_line (out, "kaiin_service_workers_busy{service=\"%s\",process=\"%s\"} %d\n", service, s_process,
            __atomic_load_n (&s_busy, __ATOMIC_RELAXED));
}

/* The name under which gauges [index] of the runtime's (set 0) or the service's (set 1) is
   prepared. */
static const char *
s_statement (int set, int index, char *name, size_t size)
{
    snprintf (name, size, "svc_metrics_%d_%d", set, index);
    return name;
}

static int
s_data_figures (pg_t *db, pg_buffer_t *out)
{
    const svc_gauge_t *const sets [] = { s_data, s_def->gauges };
    for (int set = 0; set < 2; set++)
        for (int i = 0; sets [set] && sets [set][i].name; i++) {
            const svc_gauge_t *gauge = &sets [set][i];
            char name [32];
            PGresult *result = pg_run (db, s_statement (set, i, name, sizeof name), 0, NULL);
            if (!result)
                return -1;
            size_t length = strlen (gauge->name);
            bool counter = length > 6 && strcmp (gauge->name + length - 6, "_total") == 0;
            s_family (out, gauge->name, counter? "counter": "gauge", gauge->help);
            for (int row = 0; row < PQntuples (result); row++)
                if (gauge->label)
                    s_line (out, "%s{service=\"%s\",%s=\"%s\"} %s\n", gauge->name, s_def->name,
                            gauge->label, PQgetvalue (result, row, 0), PQgetvalue (result, row, 1));
                else
                    s_line (out, "%s{service=\"%s\"} %s\n", gauge->name, s_def->name,
                            PQgetvalue (result, row, 0));
            PQclear (result);
        }
    return 0;
}

void
svc_metrics_prepare (pg_t *db, const svc_def_t *def)
{
    const svc_gauge_t *const sets [] = { s_data, def->gauges };
    for (int set = 0; set < 2; set++)
        for (int i = 0; sets [set] && sets [set][i].name; i++) {
            char name [32];
            pg_prepare (db, s_statement (set, i, name, sizeof name), sets [set][i].sql);
        }
}

int
svc_metrics_reply (pg_t *db, svc_reply_t *reply)
{
    pg_buffer_t out = { 0 };
    s_process_figures (&out);
    if (s_data_figures (db, &out) == -1) {
        free (out.text);
        return svc_db_fail (reply, db);
    }
    Kaiin__MetricsReply answer = KAIIN__METRICS_REPLY__INIT;
    answer.text = out.text;
    svc_reply_with (reply, &answer.base);
    free (out.text);
    return 0;
}
