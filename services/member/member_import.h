/* member_import.h - members in from a CSV file, the way Japanese businesses keep them in
   Excel: Japanese or English headers, UTF-8 or Shift_JIS, every row checked as member.Create
   would, then all written in one transaction (or the good ones, partial) */
#ifndef KAIIN_MEMBER_IMPORT_H
#define KAIIN_MEMBER_IMPORT_H
#include "svc.h"

/* member.Import: reads a CSV file (UTF-8, UTF-8 with BOM or Shift_JIS/CP932; Japanese or
   English headers), checks every row as member.Create would, and upserts the members by email
   in one transaction: all rows or none unless partial. Reports every rejected row with its
   line and column. Owners and admins only. */
svc_handler_fn member_api_import;

#endif
