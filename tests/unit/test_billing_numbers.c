/* test_billing_numbers.c - invoice numbers given as a billing transaction commits
   (billing_txn.c, included to reach its lists), against a stand-in for PostgreSQL: the link
   wraps pg_run, pg_defer, pg_begin and pg_commit (tests/tests.mk), and the stand-in keeps the
   invoice series and each invoice's number as the numbering statement would. The expected
   numbers are worked out by hand in the comments. */
#include "check.h"
#include "../../services/billing/billing_txn.c"

/* The stand-in database: the series' next number, the numbers given, the statements run. */
static int64_t s_next = 41;
static struct {
    char id [37];
    int64_t number;
} s_numbered [200];
static int s_count;
static int s_series_takes, s_commits;
/* What the last outbox_amend asked: its type prefix, and its ids' and patches' arrays. */
static char s_amend_prefix [32], s_amend_ids [8192], s_amend_patches [8192];
static int s_amends;

PGresult *__wrap_pg_run (pg_t *self, const char *name, int count, const char *const *params);

/* A purchase's invoice is read again as it is numbered; these invoices are no purchase's. */
Kaiin__Billing__Invoice *
invoice_load (pg_t *db, const char *id, bool for_update)
{
    (void) db; (void) id; (void) for_update;
    CHECK (!"an invoice of no purchase is not read again");
    return NULL;
}
int __wrap_pg_begin (pg_t *self);
int __wrap_pg_defer (pg_t *self, const char *name, int count, const char *const *params);
int __wrap_pg_commit (pg_t *self);

PGresult *
__wrap_pg_run (pg_t *self, const char *name, int count, const char *const *params)
{
    (void) self;
    char text [32];
    if (strcmp (name, "invoice_number_take") == 0 && count == 1) {
        /* the series moved on by the array's length, each k-th id of the array $1 numbered
           (the series' old next) + k - 1; returning k and the number as text */
        const char *id = params [0];
        CHECK (*id == '{');
        s_series_takes++;
        PGresult *result = PQmakeEmptyPGresult (NULL, PGRES_TUPLES_OK);
        PGresAttDesc columns [] = {
            { .name = "k", .format = 0, .typid = 20, .typlen = 8, .atttypmod = -1 },
            { .name = "number", .format = 0, .typid = 25, .typlen = -1, .atttypmod = -1 } };
        PQsetResultAttrs (result, 2, columns);
        int64_t first = s_next;
        for (int k = 1; *id && *id != '}'; k++) {
            id++;
            size_t length = strcspn (id, ",}");
            snprintf (s_numbered [s_count].id, sizeof s_numbered [s_count].id, "%.*s", (int) length, id);
            s_numbered [s_count].number = first + k - 1;
            snprintf (text, sizeof text, "INV-%08lld", (long long) (first + k - 1));
            char place [24];
            NUM (place, k);
            PQsetvalue (result, k - 1, 0, place, (int) strlen (place));
            PQsetvalue (result, k - 1, 1, text, (int) strlen (text));
            s_count++;
            s_next++;
            id += length;
        }
        return result;
    }
    CHECK (!"a statement the test does not know");
    return NULL;
}

/* Sent without waiting: the events' amendment. */
int
__wrap_pg_defer (pg_t *self, const char *name, int count, const char *const *params)
{
    (void) self;
    CHECK (strcmp (name, "outbox_amend") == 0 && count == 3);
    snprintf (s_amend_prefix, sizeof s_amend_prefix, "%s", params [0]);
    snprintf (s_amend_ids, sizeof s_amend_ids, "%s", params [1]);
    snprintf (s_amend_patches, sizeof s_amend_patches, "%s", params [2]);
    s_amends++;
    return 0;
}

int
__wrap_pg_begin (pg_t *self)
{
    (void) self;
    return 0;
}

int
__wrap_pg_commit (pg_t *self)
{
    (void) self;
    s_commits++;
    return 0;
}

/* The number the stand-in gave id, or 0. */
static int64_t
s_number_of (const char *id)
{
    for (int i = 0; i < s_count; i++)
        if (strcmp (s_numbered [i].id, id) == 0)
            return s_numbered [i].number;
    return 0;
}

/* The index-th patch of the last outbox_amend merged into the packed invoice: what a
   consumer reads from the amended event. The caller frees it. */
static Kaiin__Billing__Invoice *
s_amended (const Kaiin__Billing__Invoice *written, int index)
{
    const char *hex = s_amend_patches + 1;            /* past '{' */
    for (int i = 0; i < index; i++)
        hex += strcspn (hex, ",") + 1;
    hex += *hex == '"';
    size_t length = strcspn (hex, "\",}"), size = protobuf_c_message_get_packed_size (&written->base);
    uint8_t payload [1024];
    protobuf_c_message_pack (&written->base, payload);
    for (size_t i = 0; i + 1 < length; i += 2) {
        unsigned byte;
        sscanf (hex + i, "%2x", &byte);
        payload [size++] = (uint8_t) byte;
    }
    return kaiin__billing__invoice__unpack (NULL, size, payload);
}

int
main (void)
{
    pg_t *db = NULL;                    /* the stand-in needs no connection */
    const char *a = "00000000-0000-0000-0000-00000000000a", *b = "00000000-0000-0000-0000-00000000000b",
               *c = "00000000-0000-0000-0000-00000000000c", *d = "00000000-0000-0000-0000-00000000000d",
               *e = "00000000-0000-0000-0000-00000000000e";

    /* Three invoices finalised in one transaction, the series at 41: they are INV-…41, 42 and
       43 in the order they were finalised, the series taken once, and it stands at 44. */
    CHECK (billing_begin (db) == 0);
    billing_txn_number (b, "");
    billing_txn_number (a, "");
    billing_txn_number (c, "");
    CHECK (billing_commit (db) == 0);
    CHECK (s_number_of (b) == 41 && s_number_of (a) == 42 && s_number_of (c) == 43);
    CHECK (s_series_takes == 1 && s_next == 44 && s_commits == 1);
    /* Their events, written before the numbers were known, get them: one amend of the
       invoice.* events of b, a and c, each patch a packed Invoice holding only its number. */
    CHECK (s_amends == 1 && strcmp (s_amend_prefix, "invoice.") == 0);
    char expected [160];
    snprintf (expected, sizeof expected, "{\"%s\",\"%s\",\"%s\"}", b, a, c);
    CHECK (strcmp (s_amend_ids, expected) == 0);
    Kaiin__Billing__Invoice written = KAIIN__BILLING__INVOICE__INIT;
    written.id = (char *) a;
    written.status = "paid";
    written.total = 1100;
    Kaiin__Billing__Invoice *read = s_amended (&written, 1);
    CHECK (read && strcmp (read->id, a) == 0 && strcmp (read->status, "paid") == 0 && read->total == 1100);
    CHECK (read && strcmp (read->number, "INV-00000042") == 0);
    if (read)
        kaiin__billing__invoice__free_unpacked (read, NULL);

    /* A transaction that finalises nothing takes no number: it only commits. */
    CHECK (billing_begin (db) == 0 && billing_commit (db) == 0);
    CHECK (s_series_takes == 1 && s_next == 44 && s_commits == 2 && s_amends == 1);

    /* An invoice finalised in a transaction that was rolled back gets no number (the series'
       row was never touched: nothing to give back); the next transaction's invoice gets 44. */
    CHECK (billing_begin (db) == 0);
    billing_txn_number (d, "");
    CHECK (billing_begin (db) == 0);    /* the rollback's caller begins again */
    billing_txn_number (e, "");
    CHECK (billing_commit (db) == 0);
    CHECK (s_number_of (d) == 0 && s_number_of (e) == 44 && s_next == 45 && s_series_takes == 2);

    /* A batch of 150 renewals (more than the list's first 64 places): 45 to 194, in order. */
    char ids [150][37];
    CHECK (billing_begin (db) == 0);
    for (int i = 0; i < 150; i++) {
        snprintf (ids [i], sizeof ids [i], "00000000-0000-0000-0000-%012d", 1000 + i);
        billing_txn_number (ids [i], "");
    }
    CHECK (billing_commit (db) == 0);
    CHECK (s_number_of (ids [0]) == 45 && s_number_of (ids [1]) == 46 && s_number_of (ids [149]) == 194);
    CHECK (s_next == 195 && s_series_takes == 3);

    /* Announcements deferred while an invoice is collected: taken once; what is left when the
       transaction commits (paid meanwhile) is dropped, and begin starts with none. */
    CHECK (billing_begin (db) == 0);
    billing_txn_defer_announcement (a);
    billing_txn_defer_announcement (b);
    CHECK (billing_txn_take_announcement (a) && !billing_txn_take_announcement (a));
    CHECK (!billing_txn_take_announcement (c));
    CHECK (billing_commit (db) == 0);
    CHECK (!billing_txn_take_announcement (b));
    billing_txn_defer_announcement (c);
    CHECK (billing_begin (db) == 0);
    CHECK (!billing_txn_take_announcement (c));
    CHECK (billing_commit (db) == 0);
    CHECK (s_series_takes == 3);        /* announcing numbers nothing */
    return check_report ("billing numbers");
}
