/* billing_txn.c - a billing transaction: the invoices finalised in it take their gap-free
   numbers as it commits (its events of them get the number then), and those collected in it
   are announced only if not paid */
#include "billing_txn.h"
#include "invoice.h"
#include "outbox.h"
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Invoice ids kept for the thread's open transaction. */
typedef struct {
    char (*ids) [37];
    size_t count, size;
    int key;                        /* which of s_keys frees ids when the thread ends */
} s_ids_t;

/* Finalised in this transaction: numbered at billing_commit. */
static __thread s_ids_t s_unnumbered = { NULL, 0, 0, 0 };
/* Beside each of s_unnumbered: the purchase the invoice is of, or "". */
static __thread s_ids_t s_purchases = { NULL, 0, 0, 2 };
/* Finalised to be collected at once: announced (invoice.finalized) only if not paid. */
static __thread s_ids_t s_unannounced = { NULL, 0, 0, 1 };

void
billing_txn_prepare (pg_t *db)
{
    pg_prepare (db, "invoice_number_take",
            "with taken as (update number_series set next = next + cardinality ($1::uuid [])"
            "               where name = 'invoice' returning next - cardinality ($1::uuid []) as first)"
            " update invoices i set number = taken.first + n.k - 1"
            " from taken, unnest ($1::uuid []) with ordinality as n (id, k) where i.id = n.id"
            " returning n.k, " INVOICE_NUMBER);
}

int
billing_begin (pg_t *db)
{
    s_unnumbered.count = 0;
    s_purchases.count = 0;
    s_unannounced.count = 0;
    return pg_begin (db);
}

static pthread_key_t s_keys [3];
static pthread_once_t s_keys_once = PTHREAD_ONCE_INIT;

static void
s_keys_create (void)
{
    for (int i = 0; i < 3; i++)
        pthread_key_create (&s_keys [i], free);
}

static void
s_ids_add (s_ids_t *list, const char *id)
{
    if (list->count == list->size) {
        list->size = list->size? 2 * list->size: 64;
        list->ids = realloc (list->ids, list->size * sizeof *list->ids);
        assert (list->ids);
        pthread_once (&s_keys_once, s_keys_create);
        pthread_setspecific (s_keys [list->key], list->ids);      /* freed when the thread ends */
    }
    snprintf (list->ids [list->count++], 37, "%s", id);
}

/* Removes id from list; true when it was there. */
static bool
s_ids_take (s_ids_t *list, const char *id)
{
    for (size_t i = list->count; i-- > 0; )
        if (strcmp (list->ids [i], id) == 0) {
            memmove (list->ids [i], list->ids [i + 1], (list->count - i - 1) * sizeof *list->ids);
            list->count--;
            return true;
        }
    return false;
}

/* Gives the transaction's events of the invoices just numbered (numbered: rows of each one's
   place in s_unnumbered, from 1, and its number) their number: they were written with none.
   An invoice's own events take the number appended (a scalar given again replaces the first);
   a purchase's, which carry its invoice, take the whole invoice again (bought [i], loaded
   before the numbers were taken), numbered: protobuf-c does not merge an embedded message
   given twice, the last one replaces it. Sent down the pipeline, with the commit. 0 or -1. */
static int
s_amend_events (pg_t *db, PGresult *numbered, Kaiin__Billing__Invoice *const *bought)
{
    size_t count = (size_t) PQntuples (numbered), purchases = 0;
    const char **ids = malloc (count * sizeof *ids), **purchase_ids = malloc (count * sizeof *purchase_ids);
    Kaiin__Billing__Invoice *patches = malloc (count * sizeof *patches);
    Kaiin__Billing__Invoice *invoices = malloc (count * sizeof *invoices);
    Kaiin__Billing__Purchase *wholes = malloc (count * sizeof *wholes);
    const ProtobufCMessage **messages = malloc (count * sizeof *messages);
    const ProtobufCMessage **purchase_messages = malloc (count * sizeof *purchase_messages);
    assert (ids && purchase_ids && patches && invoices && wholes && messages && purchase_messages);
    for (size_t row = 0; row < count; row++) {
        size_t i = (size_t) strtoull (PQgetvalue (numbered, (int) row, 0), NULL, 10) - 1;
        char *number = PQgetvalue (numbered, (int) row, 1);
        ids [row] = s_unnumbered.ids [i];
        kaiin__billing__invoice__init (&patches [row]);
        patches [row].number = number;
        messages [row] = &patches [row].base;
        if (bought [i]) {
            invoices [purchases] = *bought [i];             /* shallow: bought [i] keeps its own */
            invoices [purchases].number = number;
            kaiin__billing__purchase__init (&wholes [purchases]);
            wholes [purchases].invoice = &invoices [purchases];
            purchase_ids [purchases] = s_purchases.ids [i];
            purchase_messages [purchases] = &wholes [purchases].base;
            purchases++;
        }
    }
    int rc = outbox_amend (db, "invoice.", count, ids, messages) == 0
          && outbox_amend (db, "purchase.", purchases, purchase_ids, purchase_messages) == 0? 0: -1;
    free (ids);
    free (purchase_ids);
    free (patches);
    free (invoices);
    free (wholes);
    free (messages);
    free (purchase_messages);
    return rc;
}

/* Numbers the transaction's count finalised invoices, in the order they were finalised, just
   before its commit: one statement takes the numbers and writes them, and what is left (the
   events amended, the commit) follows without waiting, so the series' row stays locked for
   that statement's round trip and the commit's flush only. 0 or -1. */
static int
s_number (pg_t *db, size_t count)
{
    Kaiin__Billing__Invoice **bought = calloc (count, sizeof *bought);
    assert (bought);
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        if (*s_purchases.ids [i] && !(bought [i] = invoice_load (db, s_unnumbered.ids [i], false)))
            rc = -1;
    if (rc == 0) {
        size_t size = count * 38 + 3, used = 0;
        char *array = malloc (size);
        assert (array);
        array [used++] = '{';
        for (size_t i = 0; i < count; i++)
            used += (size_t) snprintf (array + used, size - used, "%s%s", i? ",": "", s_unnumbered.ids [i]);
        snprintf (array + used, size - used, "}");
        const char *params [] = { array };
        PGresult *numbered = pg_run (db, "invoice_number_take", 1, params);
        free (array);
        rc = numbered? s_amend_events (db, numbered, bought): -1;
        PQclear (numbered);
    }
    for (size_t i = 0; i < count; i++)
        if (bought [i])
            protobuf_c_message_free_unpacked (&bought [i]->base, NULL);
    free (bought);
    return rc;
}

int
billing_commit (pg_t *db)
{
    size_t count = s_unnumbered.count;
    s_unnumbered.count = 0;
    s_purchases.count = 0;
    s_unannounced.count = 0;            /* paid in this transaction: invoice.paid says it all */
    if (count > 0 && s_number (db, count) == -1)
        return -1;
    return pg_commit (db);
}

void
billing_txn_number (const char *invoice_id, const char *purchase_id)
{
    s_ids_add (&s_unnumbered, invoice_id);
    s_ids_add (&s_purchases, purchase_id? purchase_id: "");
}

void
billing_txn_defer_announcement (const char *invoice_id)
{
    s_ids_add (&s_unannounced, invoice_id);
}

bool
billing_txn_take_announcement (const char *invoice_id)
{
    return s_ids_take (&s_unannounced, invoice_id);
}

billing_txn_mark_t
billing_txn_mark (void)
{
    return (billing_txn_mark_t) { s_unnumbered.count, s_unannounced.count };
}

void
billing_txn_rewind (billing_txn_mark_t mark)
{
    if (s_unnumbered.count > mark.unnumbered)
        s_unnumbered.count = s_purchases.count = mark.unnumbered;
    if (s_unannounced.count > mark.unannounced)
        s_unannounced.count = mark.unannounced;
}
