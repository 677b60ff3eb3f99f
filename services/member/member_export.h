/* member_export.h - members out as a CSV file that Excel opens (a UTF-8 BOM, Japanese or
   English headers; with Japanese ones, Japanese words for the status and consent), times in
   Japan (+09:00), the members a search selects; written to the audit log; a part at a time */
#ifndef KAIIN_MEMBER_EXPORT_H
#define KAIIN_MEMBER_EXPORT_H
#include "svc.h"

/* member.Export: the members a list query selects as CSV with a UTF-8 BOM (so Excel reads the
   Japanese text), in the column names import reads; written to the audit log. Owners, admins
   and marketing. A part of MEMBER_EXPORT_PART (2000) members a call: the route is paged. */
svc_handler_fn member_api_export;

/* Reads MEMBER_EXPORT_PART. */
void member_export_prepare (pg_t *db);

#endif
