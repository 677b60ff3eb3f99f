/* renewal.h - the scheduled work on subscriptions, in batches */
#ifndef KAIIN_BILLING_RENEWAL_H
#define KAIIN_BILLING_RENEWAL_H
#include "billing.h"

void renewal_prepare (pg_t *db);

/* Tick: renewals and cancellations at period end, dunning retries, incomplete expiry, each
   in one batch of up to 500 subscriptions due by now_ms (one transaction a batch, for update
   skip locked). Returns how many subscriptions it stepped (1 for a batch that found only rows
   another thread's batch holds, after waiting a moment for it), or -1. */
int renewal_tick (pg_t *db, int64_t now_ms);

#endif
