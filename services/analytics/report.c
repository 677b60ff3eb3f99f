/* report.c - the monthly report (GET /v1/reports/monthly): a month's main metrics and its
   counts per plan, loyalty segment and cancel reason, beside the month before's; JSON, or a
   CSV file Excel opens (a UTF-8 BOM, names in the caller's language).

   Every figure comes from the modules that answer it alone: metrics.c's months, churn.c's
   plans and reasons, loyalty.c's segments, so the report never disagrees with them. */
#include "report.h"
#include "analytics.h"
#include "analytics.pb-c.h"
#include "churn.h"
#include "csv.h"
#include "ingest.h"
#include "loyalty.h"
#include "metrics.h"
#include "pg.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The months the tick counts ahead: two years, and the month before the earliest (its report
   shows that one beside it). */
#define REPORT_MONTHS 25

/* A measure's or a cancel reason's name, in English and Japanese. */
typedef struct { const char *key, *english, *japanese; } s_name_t;

static const s_name_t s_measures [] = {
    { "mrr_start", "MRR at the start", "月初MRR" },
    { "mrr", "MRR", "MRR" },
    { "new_business", "New business MRR", "新規MRR" },
    { "expansion", "Expansion MRR", "拡大MRR" },
    { "contraction", "Contraction MRR", "縮小MRR" },
    { "churn", "Churned MRR", "解約MRR" },
    { "reactivation", "Reactivation MRR", "再開MRR" },
    { "net_change", "Net MRR change", "MRR純増減" },
    { "arr", "ARR", "ARR（年換算）" },
    { "subscribers_start", "Subscribers at the start", "月初の有料会員数" },
    { "subscribers", "Subscribers", "有料会員数" },
    { "arpa", "ARPA", "会員あたり平均MRR（ARPA）" },
    { "churned_customers", "Churned customers", "解約会員数" },
    { "customer_churn_rate", "Customer churn rate", "会員解約率" },
    { "gross_mrr_churn_rate", "Gross MRR churn rate", "グロスMRR解約率" },
    { "net_mrr_churn_rate", "Net MRR churn rate", "ネットMRR解約率" },
    { "gross_revenue_retention", "Gross revenue retention", "グロス収益維持率" },
    { "net_revenue_retention", "Net revenue retention", "ネット収益維持率" },
    { "ltv", "LTV", "LTV（顧客生涯価値）" },
    { "trials_started", "Trials started", "トライアル開始数" },
    { "trials_converted", "Trials converted", "有料転換数" },
    { "trial_conversion_rate", "Trial conversion rate", "トライアル転換率" },
    { "members", "Members", "会員数" },
    { "active_members", "Active members", "アクティブ会員数" },
    { "inactive_members", "Inactive members", "非アクティブ会員数" },
    { "cancellations", "Cancellations", "解約件数" },
    { NULL }
};

/* As the console names them (web/common/messages). */
static const s_name_t s_reasons [] = {
    { "all", "All", "すべて" },
    { "too_expensive", "Too expensive", "料金が高い" },
    { "missing_features", "Missing features", "必要な機能がない" },
    { "switched_service", "Switched service", "他のサービスに乗り換え" },
    { "unused", "Not used", "利用していない" },
    { "other", "Other", "その他" },
    { "payment_failed", "Payment failed (ended after dunning)", "支払い失敗（督促後の自動解約）" },
    { "unspecified", "No reason recorded", "理由の記録なし" },
    { NULL }
};

static const char *
s_name (const s_name_t *names, const char *key, bool japanese)
{
    for (int i = 0; names [i].key; i++)
        if (strcmp (names [i].key, key) == 0)
            return japanese? names [i].japanese: names [i].english;
    return key;
}

/* One month of the report, as of now (its plans: those with subscribers at its start or end,
   or churn); NULL on a database error. */
static Kaiin__Analytics__ReportMonth *
s_month (pg_t *db, analytics_month_t month, int64_t now)
{
    Kaiin__Analytics__ReportMonth *report = malloc (sizeof *report);
    kaiin__analytics__report_month__init (report);
    report->month = malloc (16);
    analytics_month_format (month, report->month, 16);
    report->metrics = malloc (sizeof *report->metrics);
    Kaiin__Analytics__ChurnMonth **churn = NULL;
    int64_t end = analytics_month_start_ms (month + 1);
    int32_t members [LOYALTY_SEGMENTS];
    if (metrics_months (db, month, month, now, "*", report->metrics) == 0
    &&  (churn = churn_months (db, month, month, now, true))
    &&  loyalty_segments (db, (end > now + 1? now + 1: end) - 1, end <= now, members) == 0) {
        report->metrics->month = strdup (report->month);
        report->plans = churn [0]->plans;
        report->n_plans = churn [0]->n_plans;
        report->cancellations = churn [0]->cancellations;
        report->cancel_reasons = churn [0]->cancel_reasons;
        report->n_cancel_reasons = churn [0]->n_cancel_reasons;
        free (churn [0]->month);
        free (churn [0]);
        free (churn);
        report->n_segments = LOYALTY_SEGMENTS;
        report->segments = calloc (LOYALTY_SEGMENTS, sizeof *report->segments);
        for (int i = 0; i < LOYALTY_SEGMENTS; i++) {
            const char *code, *name;
            loyalty_segment_name (i, &code, &name);
            Kaiin__Analytics__SegmentCount *segment = report->segments [i] = malloc (sizeof *segment);
            kaiin__analytics__segment_count__init (segment);
            segment->segment = strdup (code);
            segment->name = strdup (name);
            segment->members = members [i];
        }
        return report;
    }
    if (churn) {
        protobuf_c_message_free_unpacked (&churn [0]->base, NULL);
        free (churn);
    }
    free (report->metrics);
    report->metrics = NULL;
    protobuf_c_message_free_unpacked (&report->base, NULL);
    return NULL;
}

/* A field of a message as CSV text ("0" when the message is NULL). */
static void
s_value (const ProtobufCMessage *message, const ProtobufCFieldDescriptor *field, char *text, size_t size)
{
    const char *at = message? (const char *) message + field->offset: NULL;
    if (field->type == PROTOBUF_C_TYPE_DOUBLE)
        snprintf (text, size, "%.6f", at? *(const double *) at: 0.0);
    else
    if (field->type == PROTOBUF_C_TYPE_INT64)
        snprintf (text, size, "%lld", at? (long long) *(const int64_t *) at: 0LL);
    else
        snprintf (text, size, "%d", at? *(const int32_t *) at: 0);
}

/* A line of the CSV file: five names (written by csv.c, quoted as they need), then this
   month's and the previous month's number. */
static void
s_line (pg_buffer_t *csv, const char *const names [5], const char *value, const char *previous)
{
    for (int i = 0; i < 5; i++)
        csv_buffer_field (csv, names [i], 0);
    char numbers [80];
    snprintf (numbers, sizeof numbers, "%s,%s\r\n", value, previous);
    pg_buffer_append (csv, numbers, strlen (numbers));
}

/* A line per number of this month's message (and the same field of the previous one's, or 0). */
static void
s_numbers (pg_buffer_t *csv, bool japanese, const char *section, const char *segment, const char *name,
           const ProtobufCMessage *now, const ProtobufCMessage *before)
{
    const ProtobufCMessageDescriptor *descriptor = now? now->descriptor: before->descriptor;
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields [i];
        if (field->label == PROTOBUF_C_LABEL_REPEATED
        ||  (field->type != PROTOBUF_C_TYPE_INT32 && field->type != PROTOBUF_C_TYPE_INT64
             && field->type != PROTOBUF_C_TYPE_DOUBLE))
            continue;
        char value [32], previous [32];
        s_value (now, field, value, sizeof value);
        s_value (before, field, previous, sizeof previous);
        const char *names [] = { section, segment, name, field->name,
                                 s_name (s_measures, field->name, japanese) };
        s_line (csv, names, value, previous);
    }
}

static const ProtobufCMessage *
s_plan (const Kaiin__Analytics__ReportMonth *month, const char *code)
{
    for (size_t i = 0; i < month->n_plans; i++)
        if (strcmp (month->plans [i]->plan, code) == 0)
            return &month->plans [i]->base;
    return NULL;
}

static int32_t
s_reason_count (const Kaiin__Analytics__ReportMonth *month, const char *reason)
{
    if (strcmp (reason, "all") == 0)
        return month->cancellations;
    for (size_t i = 0; i < month->n_cancel_reasons; i++)
        if (strcmp (month->cancel_reasons [i]->reason, reason) == 0)
            return month->cancel_reasons [i]->count;
    return 0;
}

static char *
s_csv (const Kaiin__Analytics__ReportMonth *month, const Kaiin__Analytics__ReportMonth *previous, bool japanese)
{
    pg_buffer_t csv = { 0 };
    pg_buffer_append (&csv, "\xEF\xBB\xBF", 3);                  /* so that Excel reads UTF-8 */
    const char *header = japanese? "区分,セグメント,セグメント名,項目,項目名"
                                 : "section,segment,segment_name,measure,measure_name";
    pg_buffer_append (&csv, header, strlen (header));
    char line [64];
    snprintf (line, sizeof line, ",%s,%s\r\n", month->month, previous->month);
    pg_buffer_append (&csv, line, strlen (line));
    s_numbers (&csv, japanese, "metrics", "", "", &month->metrics->base, &previous->metrics->base);
    for (size_t i = 0; i < month->n_plans; i++)
        s_numbers (&csv, japanese, "plan", month->plans [i]->plan, month->plans [i]->plan,
                   &month->plans [i]->base, s_plan (previous, month->plans [i]->plan));
    for (size_t i = 0; i < previous->n_plans; i++)
        if (!s_plan (month, previous->plans [i]->plan))
            s_numbers (&csv, japanese, "plan", previous->plans [i]->plan, previous->plans [i]->plan,
                       NULL, &previous->plans [i]->base);
    for (size_t i = 0; i < month->n_segments; i++) {
        const Kaiin__Analytics__SegmentCount *segment = month->segments [i];
        s_numbers (&csv, japanese, "loyalty", segment->segment, japanese? segment->name: segment->segment,
                   &segment->base, &previous->segments [i]->base);
    }
    for (int i = 0; s_reasons [i].key; i++) {
        const char *reason = s_reasons [i].key;
        char value [16], before [16];
        snprintf (value, sizeof value, "%d", s_reason_count (month, reason));
        snprintf (before, sizeof before, "%d", s_reason_count (previous, reason));
        const char *names [] = { "cancel_reason", reason, s_name (s_reasons, reason, japanese),
                                 "cancellations", s_name (s_measures, "cancellations", japanese) };
        s_line (&csv, names, value, before);
    }
    pg_buffer_append (&csv, "", 1);
    return csv.text;
}

int
report_api_monthly (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__ReportRequest *query = (Kaiin__Analytics__ReportRequest *)
        svc_unpack (request, &kaiin__analytics__report_request__descriptor, reply);
    if (!query)
        return -1;
    int64_t now = request->envelope->now_ms;
    analytics_month_t current = analytics_month_of (now), month = current - 1;
    if (*query->month && analytics_month_parse (query->month, &month) == -1)
        svc_field_error (reply, "month", "must be a month, YYYY-MM");
    else
    if (month > current) {
        char text [16];
        svc_field_error (reply, "month", "must not be after the current month, %s",
                         analytics_month_format (current, text, sizeof text));
    }
    bool csv = metrics_wants_csv (reply, query->format, query->accept);
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        Kaiin__Analytics__ReportMonth *asked = s_month (request->db, month, now);
        Kaiin__Analytics__ReportMonth *before = asked? s_month (request->db, month - 1, now): NULL;
        if (before) {
            Kaiin__Analytics__Report answer = KAIIN__ANALYTICS__REPORT__INIT;
            answer.as_of_ms = now;
            char *text = NULL;
            if (csv)
                answer.csv = text = s_csv (asked, before, reply->japanese);
            else {
                answer.month = asked;
                answer.previous = before;
            }
            rc = svc_reply_with (reply, &answer.base);
            free (text);
        }
        else
            svc_db_fail (reply, request->db);
        if (asked)
            protobuf_c_message_free_unpacked (&asked->base, NULL);
        if (before)
            protobuf_c_message_free_unpacked (&before->base, NULL);
    }
    protobuf_c_message_free_unpacked (&query->base, NULL);
    return rc;
}

int
report_warm (pg_t *db, int64_t now_ms)
{
    analytics_month_t current = analytics_month_of (now_ms);
    char ats [REPORT_MONTHS * 22 + 2] = "{";
    for (int k = 1; k <= REPORT_MONTHS; k++)
        snprintf (ats + strlen (ats), sizeof ats - strlen (ats), "%s%lld", k > 1? ",": "",
                  (long long) analytics_month_start_ms (current - k + 1) - 1);
    strcat (ats, "}");
    int64_t at = loyalty_unkept (db, ats);
    if (at <= 0 || !ingest_caught_up (db))
        return at == -1? -1: 0;
    return loyalty_keep (db, at) == -1? -1: 0;
}
