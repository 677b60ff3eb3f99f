/* member_import.h - members in from a CSV file, the way Japanese businesses keep them in
   Excel: Japanese or English headers, UTF-8 or Shift_JIS, every row checked as member.Create
   would, then all written in one transaction (or the good ones, partial) */
#ifndef KAIIN_MEMBER_IMPORT_H
#define KAIIN_MEMBER_IMPORT_H
#include "audit.h"
#include "member_csv.pb-c.h"
#include "svc.h"

/* member.Import: reads a CSV file (UTF-8, UTF-8 with BOM or Shift_JIS/CP932; Japanese or
   English headers), checks every row as member.Create would, and upserts the members by email
   in one transaction: all rows or none unless partial. Reports every rejected row with its
   line and column. Owners and admins only. */
svc_handler_fn member_api_import;

/* Checks the header of a file (UTF-8 text) as member.Import does, and with rows that a row
   follows. Returns the header record's length in bytes, or -1 with reply failed:
   INVALID_ARGUMENT, each reason on the field "csv". */
int member_import_header (const char *text, size_t size, bool japanese, bool rows, svc_reply_t *reply);

/* Given count rows' lower-cased emails and rows, writes into earlier [i] the row that first
   had keys [i] in the whole file (rows [i] itself when it is the first) and remembers the new
   ones. Returns 0, or -1 on a database error. */
typedef int (member_import_seen_fn) (void *arg, const char *const *keys, const int *rows,
                                     size_t count, int *earlier);

/* Imports one batch of a file in the caller's transaction, as member.Import in partial mode:
   header is the file's header record, text (size bytes) whole records numbered on from
   result->rows; a row repeating an email seen earlier (seen says) is rejected naming that
   row. Adds to result's counters and sets its errors (sorted by row; free them with
   member_import_errors_free). Returns 0, or -1 with reply failed. */
int member_import_batch (svc_request_t *request, const char *header, const char *text, size_t size,
                         bool add_tags_only, member_import_seen_fn *seen, void *seen_arg,
                         Kaiin__MemberCsv__ImportReply *result, svc_reply_t *reply);

/* Frees result's errors (and sets it to none). Nothing when it has none. */
void member_import_errors_free (Kaiin__MemberCsv__ImportReply *result);

/* Appends the audit entry member.imported of a file (or a job's, job_id not NULL) inside the
   caller's transaction, unless it created and updated nothing. Returns 0 or -1. */
int member_import_audit (pg_t *db, const audit_actor_t *actor, const Kaiin__MemberCsv__ImportReply *result,
                         const char *job_id);

#endif
