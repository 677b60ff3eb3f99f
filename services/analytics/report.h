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

#endif
