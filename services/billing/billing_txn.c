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
/* Finalised to be collected at once: announced (invoice.finalized) only if not paid. */
static __thread s_ids_t s_unannounced = { NULL, 0, 0, 1 };

void
billing_txn_prepare (pg_t *db)
{
    pg_prepare (db, "invoice_numbers",
            "update number_series set next = next + $1 where name = 'invoice' returning next - $1");
    pg_prepare (db, "invoice_number_set",
            "update invoices i set number = $2 + n.k - 1"
            " from unnest ($1::uuid []) with ordinality as n (id, k) where i.id = n.id"
            " returning i.id, " INVOICE_NUMBER ", coalesce (i.purchase_id::text, '')");
}

int
billing_begin (pg_t *db)
{
    s_unnumbered.count = 0;
    s_unannounced.count = 0;
    return pg_begin (db);
}

static pthread_key_t s_keys [2];
static pthread_once_t s_keys_once = PTHREAD_ONCE_INIT;

static void
s_keys_create (void)
{
    pthread_key_create (&s_keys [0], free);
    pthread_key_create (&s_keys [1], free);
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

/* Gives the transaction's events of the invoices just numbered (numbered: rows of id, number
   and purchase id) their number: they were written with none. An invoice's own events take
   the number appended (a scalar given again replaces the first); a purchase's, which carry
   its invoice, take the whole invoice again, numbered (protobuf-c does not merge an embedded
   message given twice: the last one replaces it). 0 or -1. */
static int
s_amend_events (pg_t *db, PGresult *numbered)
{
    size_t count = (size_t) PQntuples (numbered), bought = 0;
    const char **ids = malloc (count * sizeof *ids), **purchase_ids = malloc (count * sizeof *purchase_ids);
    Kaiin__Billing__Invoice *patches = malloc (count * sizeof *patches);
    Kaiin__Billing__Purchase *purchases = malloc (count * sizeof *purchases);
    const ProtobufCMessage **messages = malloc (count * sizeof *messages);
    const ProtobufCMessage **purchase_messages = malloc (count * sizeof *purchase_messages);
    assert (ids && purchase_ids && patches && purchases && messages && purchase_messages);
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        ids [i] = PQgetvalue (numbered, (int) i, 0);
        kaiin__billing__invoice__init (&patches [i]);
        patches [i].number = PQgetvalue (numbered, (int) i, 1);
        messages [i] = &patches [i].base;
        const char *purchase_id = PQgetvalue (numbered, (int) i, 2);
        if (*purchase_id && rc == 0) {
            kaiin__billing__purchase__init (&purchases [bought]);
            if (!(purchases [bought].invoice = invoice_load (db, ids [i], false))) {
                rc = -1;
                continue;
            }
            purchase_ids [bought] = purchase_id;
            purchase_messages [bought] = &purchases [bought].base;
            bought++;
        }
    }
    if (rc == 0)
        rc = outbox_amend (db, "invoice.", count, ids, messages) == 0
          && outbox_amend (db, "purchase.", bought, purchase_ids, purchase_messages) == 0? 0: -1;
    for (size_t i = 0; i < bought; i++)
        protobuf_c_message_free_unpacked (&purchases [i].invoice->base, NULL);
    free (ids);
    free (purchase_ids);
    free (patches);
    free (purchases);
    free (messages);
    free (purchase_messages);
    return rc;
}

int
billing_commit (pg_t *db)
{
    size_t count = s_unnumbered.count;
    s_unnumbered.count = 0;
    s_unannounced.count = 0;            /* paid in this transaction: invoice.paid says it all */
    if (count > 0) {
        /* Taken last, so the series' row stays locked only for the commit itself. */
        char count_text [24];
        const char *take [] = { NUM (count_text, count) };
        PGresult *result = pg_run (db, "invoice_numbers", 1, take);
        if (!result)
            return -1;
        char first [24];
        snprintf (first, sizeof first, "%s", PQgetvalue (result, 0, 0));
        PQclear (result);
        size_t size = count * 38 + 3;
        char *array = malloc (size);
        assert (array);
        size_t used = 0;
        array [used++] = '{';
        for (size_t i = 0; i < count; i++)
            used += (size_t) snprintf (array + used, size - used, "%s%s", i? ",": "", s_unnumbered.ids [i]);
        snprintf (array + used, size - used, "}");
        const char *params [] = { array, first };
        result = pg_run (db, "invoice_number_set", 2, params);
        free (array);
        if (!result || s_amend_events (db, result) == -1) {
            PQclear (result);
            return -1;
        }
        PQclear (result);
    }
    return pg_commit (db);
}

void
billing_txn_number (const char *invoice_id)
{
    s_ids_add (&s_unnumbered, invoice_id);
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
        s_unnumbered.count = mark.unnumbered;
    if (s_unannounced.count > mark.unannounced)
        s_unannounced.count = mark.unannounced;
}
