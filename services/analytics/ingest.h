/* ingest.h - member's and billing's events into analytics' projections: the members, the
   timeline, inquiries, failed payments, and each subscription's MRR (mrr.c) */
#ifndef KAIIN_INGEST_H
#define KAIIN_INGEST_H
#include "svc.h"

/* The services whose events analytics reads, each with its apply function (svc_consumer_t),
   ending with { NULL, NULL }. Adding a source is adding a row here. */
extern const svc_consumer_t ingest_sources [];

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void ingest_prepare (pg_t *db);

/* True when analytics has applied every event its sources have numbered so far (it asks each
   source for its last). */
bool ingest_caught_up (pg_t *db);

#endif
