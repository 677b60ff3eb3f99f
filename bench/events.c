/* events.c - kaiin-bench-events: outbox rows for the analytics figures, their payloads packed
   from the API's JSON (common/pb_json.c) by each message's protobuf-c descriptor.

     kaiin-bench-events <events.tsv >rows.copy

   Reads one event a line: seq, type, aggregate_id, occurred_at_ms, the payload's message
   (its full name: kaiin.billing.Subscription) and the payload as the API's JSON, tab-separated.
   Writes one line of COPY text a row for outbox (seq, type, aggregate_id, occurred_at,
   payload). A line it cannot read stops it: exit 1, the line's number and why on stderr. */
#include "billing.pb-c.h"
#include "inquiry.pb-c.h"
#include "member.pb-c.h"
#include "member_auth.pb-c.h"
#include "pb_json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The payloads bench/analytics.py writes. */
static const ProtobufCMessageDescriptor *s_messages [] = {
    &kaiin__member__member__descriptor,
    &kaiin__member_auth__logged_in__descriptor,
    &kaiin__inquiry__inquiry__descriptor,
    &kaiin__billing__subscription__descriptor,
    &kaiin__billing__invoice__descriptor,
    &kaiin__billing__payment__descriptor,
    &kaiin__billing__purchase__descriptor,
    NULL
};

static const ProtobufCMessageDescriptor *
s_message (const char *name)
{
    for (int i = 0; s_messages [i]; i++)
        if (strcmp (s_messages [i]->name, name) == 0)
            return s_messages [i];
    return NULL;
}

static int
s_fail (long line, const char *why, const char *what)
{
    fprintf (stderr, "kaiin-bench-events: line %ld: %s '%s'\n", line, why, what);
    return 1;
}

int
main (void)
{
    char *text = NULL;
    size_t size = 0;
    long line = 0;
    uint8_t *packed = NULL;
    size_t packed_size = 0;
    while (getline (&text, &size, stdin) != -1) {
        line++;
        text [strcspn (text, "\n")] = 0;
        char *column [6], *rest = text;
        for (int i = 0; i < 6; i++) {
            column [i] = rest;
            rest = i < 5? strchr (rest, '\t'): NULL;
            if (i < 5 && !rest)
                return s_fail (line, "expected 6 tab-separated columns, not", text);
            if (rest)
                *rest++ = 0;
        }
        const ProtobufCMessageDescriptor *descriptor = s_message (column [4]);
        if (!descriptor)
            return s_fail (line, "no such payload message", column [4]);
        json_error_t error;
        json_t *object = json_loads (column [5], 0, &error);
        if (!object)
            return s_fail (line, error.text, column [5]);
        pb_json_errors_t errors;
        ProtobufCMessage *message = pb_json_to_message (descriptor, object, &errors);
        json_decref (object);
        if (!message)
            return s_fail (line, errors.list [0].reason, errors.list [0].field);
        size_t length = protobuf_c_message_get_packed_size (message);
        if (length > packed_size) {
            packed_size = length * 2;
            packed = realloc (packed, packed_size);
            if (!packed)
                return s_fail (line, "out of memory for", column [4]);
        }
        protobuf_c_message_pack (message, packed);
        protobuf_c_message_free_unpacked (message, NULL);
        long long at_ms = strtoll (column [3], NULL, 10);
        time_t seconds = (time_t) (at_ms / 1000);
        struct tm utc;
        char when [40];
        gmtime_r (&seconds, &utc);
        strftime (when, sizeof when, "%Y-%m-%d %H:%M:%S", &utc);
        printf ("%s\t%s\t%s\t%s.%03lld+00\t\\\\x", column [0], column [1], column [2], when, at_ms % 1000);
        for (size_t i = 0; i < length; i++)
            printf ("%02x", packed [i]);
        putchar ('\n');
    }
    free (text);
    free (packed);
    return fflush (stdout) == 0? 0: 1;
}
