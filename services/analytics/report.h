/* report.h - the monthly report: a month's main metrics and counts per segment, beside the
   month before's */
#ifndef KAIIN_REPORT_H
#define KAIIN_REPORT_H
#include "svc.h"

/* analytics.Report: ReportRequest → Report for the month asked (default: the last whole one)
   and the month before it, as of the request's now; with format "csv" or an Accept of
   text/csv the reply's csv holds both as a file (README.md, "The monthly report").
   INVALID_ARGUMENT naming month or format. */
int report_api_monthly (svc_request_t *request, svc_reply_t *reply);

/* The tick's part: counts the loyalty segments of one ended month of the REPORT_MONTHS
   before now's whose counts are not kept (the latest first), once analytics has caught up
   with its sources, so that a report's first request for a month finds them kept. Returns 0
   (what it does is never due work a clock move waits for), or -1 on a database error. */
int report_warm (pg_t *db, int64_t now_ms);

#endif
