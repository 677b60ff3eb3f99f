/* test_billing_numbers.c - invoice numbers given as a billing transaction commits
   (billing_txn.c, included to reach its lists), against a stand-in for PostgreSQL: the link
   wraps pg_run, pg_begin and pg_commit (tests/tests.mk), and the stand-in keeps the invoice
   series and each invoice's number as the two numbering statements would. The expected
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

PGresult *__wrap_pg_run (pg_t *self, const char *name, int count, const char *const *params);
int __wrap_pg_begin (pg_t *self);
int __wrap_pg_commit (pg_t *self);

/* A result of one row and one column holding value. */
static PGresult *
s_result (const char *value)
{
    PGresult *result = PQmakeEmptyPGresult (NULL, PGRES_TUPLES_OK);
    PGresAttDesc column = { .name = "n", .format = 0, .typid = 20, .typlen = 8, .atttypmod = -1 };
    PQsetResultAttrs (result, 1, &column);
    PQsetvalue (result, 0, 0, (char *) value, (int) strlen (value));
    return result;
}

PGresult *
__wrap_pg_run (pg_t *self, const char *name, int count, const char *const *params)
{
    (void) self;
    char text [24];
    if (strcmp (name, "invoice_numbers") == 0 && count == 1) {
        /* update number_series set next = next + $1 ... returning next - $1 */
        int64_t taken = strtoll (params [0], NULL, 10);
        s_next += taken;
        s_series_takes++;
        return s_result (NUM (text, s_next - taken));
    }
    if (strcmp (name, "invoice_number_set") == 0 && count == 2) {
        /* number = $2 + k - 1 for the k-th id of the array $1 */
        int64_t first = strtoll (params [1], NULL, 10);
        const char *id = params [0];
        CHECK (*id == '{');
        for (int k = 1; *id && *id != '}'; k++) {
            id++;
            size_t length = strcspn (id, ",}");
            snprintf (s_numbered [s_count].id, sizeof s_numbered [s_count].id, "%.*s", (int) length, id);
            s_numbered [s_count++].number = first + k - 1;
            id += length;
        }
        return s_result ("");
    }
    CHECK (!"a statement the test does not know");
    return NULL;
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
s_number (const char *id)
{
    for (int i = 0; i < s_count; i++)
        if (strcmp (s_numbered [i].id, id) == 0)
            return s_numbered [i].number;
    return 0;
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
    billing_txn_number (b);
    billing_txn_number (a);
    billing_txn_number (c);
    CHECK (billing_commit (db) == 0);
    CHECK (s_number (b) == 41 && s_number (a) == 42 && s_number (c) == 43);
    CHECK (s_series_takes == 1 && s_next == 44 && s_commits == 1);

    /* A transaction that finalises nothing takes no number: it only commits. */
    CHECK (billing_begin (db) == 0 && billing_commit (db) == 0);
    CHECK (s_series_takes == 1 && s_next == 44 && s_commits == 2);

    /* An invoice finalised in a transaction that was rolled back gets no number (the series'
       row was never touched: nothing to give back); the next transaction's invoice gets 44. */
    CHECK (billing_begin (db) == 0);
    billing_txn_number (d);
    CHECK (billing_begin (db) == 0);    /* the rollback's caller begins again */
    billing_txn_number (e);
    CHECK (billing_commit (db) == 0);
    CHECK (s_number (d) == 0 && s_number (e) == 44 && s_next == 45 && s_series_takes == 2);

    /* A batch of 150 renewals (more than the list's first 64 places): 45 to 194, in order. */
    char ids [150][37];
    CHECK (billing_begin (db) == 0);
    for (int i = 0; i < 150; i++) {
        snprintf (ids [i], sizeof ids [i], "00000000-0000-0000-0000-%012d", 1000 + i);
        billing_txn_number (ids [i]);
    }
    CHECK (billing_commit (db) == 0);
    CHECK (s_number (ids [0]) == 45 && s_number (ids [1]) == 46 && s_number (ids [149]) == 194);
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
