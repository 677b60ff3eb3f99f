/* scheduler.h - the order of billing's scheduled work: the next moment something falls due */
#ifndef KAIIN_BILLING_SCHEDULER_H
#define KAIIN_BILLING_SCHEDULER_H
#include "billing.h"

void scheduler_prepare (pg_t *db);

/* Takes (share true, waiting) or gives back the scheduler's shared lock, held by every batch of
   a step: tick threads and processes work on one step side by side. A lost connection gives
   it back. 0 or -1. */
int scheduler_share (pg_t *db, bool share);

/* Takes (take true, waiting for the batches that hold it shared) or gives back the scheduler
   alone, to find the next step or move past one while no batch runs. 0 or -1. */
int scheduler_take (pg_t *db, bool take);

/* The step being worked on, shared by every tick (Unix ms), 0 when the next one is still to be
   found, -1 on a database error. */
int64_t scheduler_current (pg_t *db);

/* Makes step_ms the step every tick works on. 0 or -1. */
int scheduler_set (pg_t *db, int64_t step_ms);

/* The moment the scheduled work is to be done as of, on the way to now_ms: the first moment
   after the horizon at which something falls due (a period's end, a retry, an incomplete
   subscription's 23 hours, a pending payment's expiry, an invoice's due date), plus up to
   SCHEDULER_WINDOW_MS to take the work falling due close together in one batch; now_ms when
   nothing falls due before it. So a clock moved by months does the work of each day in turn,
   as if it had moved day by day. Returns the moment, or -1 on a database error. */
int64_t scheduler_step (pg_t *db, int64_t now_ms);

/* Whether something falls due after the horizon by now_ms: 1, 0, or -1 on a database error. */
int scheduler_due (pg_t *db, int64_t now_ms);

/* Everything due by step_ms is done: the horizon moves there (never back), and the next step
   is to be found. 0 or -1. */
int scheduler_advance (pg_t *db, int64_t step_ms);

#define SCHEDULER_WINDOW_MS (3600 * 1000LL)

#endif
