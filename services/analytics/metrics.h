/* metrics.h - subscription metrics by JST month, from the MRR movements (mrr.c), and the month
   ranges every metrics route takes */
#ifndef KAIIN_METRICS_H
#define KAIIN_METRICS_H
#include "analytics.h"
#include "svc.h"
#include "analytics.pb-c.h"

#define METRICS_MONTHS_MAX 120
/* A PostgreSQL array literal of up to METRICS_MONTHS_MAX + 6 Unix milliseconds. */
#define METRICS_ARRAY_SIZE ((METRICS_MONTHS_MAX + 6) * 21 + 3)

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void metrics_prepare (pg_t *db);

/* Reads the months from_text .. to_text ("YYYY-MM", JST; "" for the defaults: to the month of
   now, from 11 months before to) into *from and *to: at most METRICS_MONTHS_MAX months, none
   after the month of now. Returns 0, or -1 with field errors on reply naming from or to. */
int metrics_range (svc_reply_t *reply, const char *from_text, const char *to_text, int64_t now,
                   analytics_month_t *from, analytics_month_t *to);

/* Writes the starts and ends of the months from .. to as PostgreSQL arrays, in order; the
   current month ends at now (+1 ms: what happened at now counts). */
void metrics_bounds (analytics_month_t from, analytics_month_t to, int64_t now,
                     char starts [METRICS_ARRAY_SIZE], char ends [METRICS_ARRAY_SIZE]);

/* Whether a reply is asked for as CSV: format "csv", or none and an Accept naming text/csv.
   A format other than json or csv is a field error on reply. */
bool metrics_wants_csv (svc_reply_t *reply, const char *format, const char *accept);

/* Whether the monthly roll-up (month_rollup, cohort_rollup: migration 010) answers for the
   months up to now's exactly as the movements do: 1, or 0 when the month of now holds
   movements after now (the routes then count from the movements); -1 on a database error. */
int metrics_rolled_up (pg_t *db, int64_t now);

/* Fills months [0 .. to - from] with the metrics of the months from .. to as of now (rates,
   ARPA and LTV derived), counting plan's MRR ("*": every plan's); their month names are left
   unset. Returns 0, or -1 on a database error. */
int metrics_months (pg_t *db, analytics_month_t from, analytics_month_t to, int64_t now,
                    const char *plan, Kaiin__Analytics__MonthMetrics *months);

/* analytics.Metrics: MetricsRequest → MetricsReply, one MonthMetrics per month from `from` to
   `to`, as of the request's now. Months before any data answer zeros. With format "csv" or an
   Accept of text/csv the reply's csv holds the same rows (one line per month, a header first)
   and months is empty. INVALID_ARGUMENT naming from, to or format. */
int metrics_api_subscriptions (svc_request_t *request, svc_reply_t *reply);

#endif
