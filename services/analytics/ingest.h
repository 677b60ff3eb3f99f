/* ingest.h - member's and billing's events into analytics' projections: the members, the
   timeline, inquiries, failed payments, and each subscription's MRR (mrr.c) */
#ifndef KAIIN_INGEST_H
#define KAIIN_INGEST_H
#include "svc.h"

/* The services whose events analytics reads, each with its apply function (svc_consumer_t),
   ending with { NULL, NULL }. Adding a source is adding a row here. */
extern const svc_consumer_t ingest_sources [];

/* Prepares the module's statements on a connection. Returns 0 or -1. */
int ingest_prepare (pg_t *db);

#endif
