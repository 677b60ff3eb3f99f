/* terms.h - a company's payment terms (締め日と支払期日): when its invoices are due, and the
   requests that set and read them */
#ifndef KAIIN_BILLING_TERMS_H
#define KAIIN_BILLING_TERMS_H
#include "billing.h"

/* The rule a company's invoices are due by. closing_day 0: the member has no terms in force. */
typedef struct {
    int closing_day;                    /* 1..28, or 31: the month's last day (月末) */
    int due_months;                     /* with due_day: the due day's month after the closing's */
    int due_day;                        /* 1..28, or 31 (月末) */
    int due_days;                       /* or: days after the closing date */
    bool consolidate;                   /* 合算請求: a closing period's charges on one invoice */
} terms_t;

#define TERMS_MONTH_END 31

void terms_prepare (pg_t *db);

/* The terms in force for member_id (a company's), into terms; closing_day 0 when it has none
   or is not marked as a company. 0, or -1 on a database error. */
int terms_find (pg_t *db, const char *member_id, terms_t *terms);

/* When an invoice issued at issued_ms is due on terms (in force): the closing date that follows
   the issue (that day or later, on the calendar of Japan), then the due rule from it. Returns
   the due moment, the last millisecond of the due date in Japan (23:59:59.999 JST); the
   closing date's last millisecond into *closing_ms when it is not NULL. */
int64_t terms_due_ms (const terms_t *terms, int64_t issued_ms, int64_t *closing_ms);

/* The closing date (its last millisecond in Japan) of the period a charge made at charged_ms
   falls in, when the terms in force gather a period's charges onto one invoice (consolidate);
   else 0: each charge is an invoice of its own. */
int64_t terms_gather_ms (const terms_t *terms, int64_t charged_ms);

/* The due moment of an invoice issued at issued_ms to member_id: on its terms when it has
   them in force, else issued_ms + otherwise_ms. -1 on a database error. */
int64_t terms_due_for (pg_t *db, const char *member_id, int64_t issued_ms, int64_t otherwise_ms);

svc_handler_fn terms_api_get, terms_api_put;

#endif
