/* member_csv.h - members in and out as CSV files, the way Japanese businesses keep them in Excel */
#ifndef KAIIN_MEMBER_CSV_H
#define KAIIN_MEMBER_CSV_H
#include "svc.h"

/* member.Import: reads a CSV file (UTF-8, UTF-8 with BOM or Shift_JIS/CP932; Japanese or
   English headers), checks every row as member.Create would, and upserts the members by email
   in one transaction: all rows or none unless partial. Reports every rejected row with its
   line and column. Owners and admins only. */
int member_csv_import (svc_request_t *request, svc_reply_t *reply);

/* member.Export: the members a list query selects as CSV with a UTF-8 BOM (so Excel reads the
   Japanese text), in the column names import reads; written to the audit log. Owners, admins
   and marketing. */
int member_csv_export (svc_request_t *request, svc_reply_t *reply);

#endif
