/* import_job.h - the CSV import as a job: the posted file stored in chunks of whole records,
   imported one chunk a transaction by the tick, with its progress, errors so far and cancel */
#ifndef KAIIN_IMPORT_JOB_H
#define KAIIN_IMPORT_JOB_H
#include "member.h"
#include "svc.h"

/* Reads MEMBER_IMPORT_BATCH (records a chunk, 1000) and MEMBER_IMPORT_PAUSE_MS (a nap after
   each batch, for tests: 0) and records the statements. */
void import_job_prepare (pg_t *db);

/* member.ImportJobCreate: converts and checks the file's header as member.Import does
   (INVALID_ARGUMENT on "csv" otherwise), stores its records in chunks and answers the job,
   queued. Owners and admins only (member.import). */
svc_handler_fn import_job_api_create;

/* member.ImportJobGet: the job with its counters and first 100 rejected rows; NOT_FOUND. */
svc_handler_fn import_job_api_get;

/* member.ImportJobCancel: a queued or running job is canceled between two batches (the rows
   written stay); FAILED_PRECONDITION once it has ended; NOT_FOUND. */
svc_handler_fn import_job_api_cancel;

/* The tick: imports one chunk of the oldest active job in one transaction with the job's
   cursor and counters (so a crash repeats no row), or ends a job whose chunks are all done.
   A batch that met a race (a member created meanwhile with one of its emails) is tried again
   at the next tick, matched anew; one that cannot be written fails the job. Returns rows done, 0 when no job is active,
   -1 on a database error. */
int import_job_tick (pg_t *db, int64_t now_ms);

#endif
