/* scheduler.h - the order of billing's scheduled work: the next moment something falls due */
#ifndef KAIIN_BILLING_SCHEDULER_H
#define KAIIN_BILLING_SCHEDULER_H
#include "billing.h"

int scheduler_prepare (pg_t *db);

/* Takes (lock true) or gives back the scheduler: one tick at a time, across processes, waiting
   for it; a lost connection gives it back. 0 or -1. */
int scheduler_lock (pg_t *db, bool lock);

/* The moment the scheduled work is to be done as of, on the way to now_ms: the first moment
   after the horizon at which something falls due (a period's end, a retry, an incomplete
   subscription's 23 hours, a pending payment's expiry, an invoice's due date), plus up to
   SCHEDULER_WINDOW_MS to take the work falling due close together in one batch; now_ms when
   nothing falls due before it. So a clock moved by months does the work of each day in turn,
   as if it had moved day by day. Returns the moment, or -1 on a database error. */
int64_t scheduler_step (pg_t *db, int64_t now_ms);

/* Everything due by step_ms is done: the horizon moves there (never back). 0 or -1. */
int scheduler_advance (pg_t *db, int64_t step_ms);

#define SCHEDULER_WINDOW_MS (3600 * 1000LL)

#endif
