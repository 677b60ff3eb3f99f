/* mail.c - the mails: composed from a template for a member, written (queued) before they
   are sent, sent by the tick over SMTP, marked after; one-off sends and the mail log */
#include "mail.h"
#include "analytics.pb-c.h"
#include "campaign.h"
#include "charset.h"
#include "click.h"
#include "config.h"
#include "log.h"
#include "outbox.h"
#include "rate.h"
#include "render.h"
#include "settings.h"
#include "smtp.h"
#include "suppression.h"
#include "template.h"
#include "unsubscribe.h"
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAIL_COLUMNS "id, member_id, template_id, coalesce (automation_id::text, '') as automation_id," \
    " event_id, kind, status, \"to\", subject, message_id, attempts, last_error, due_at_ms," \
    " sent_at_ms, created_at_ms, coalesce (campaign_id::text, '') as campaign_id, clicked_at_ms," \
    " unsubscribed_at_ms, converted_at_ms, seq"
#define SAMPLE_MAIL_ID "00000000-0000-0000-0000-000000000000"   /* a test send's: its links
                                                                   lead nowhere */
#define ATTEMPTS_MAX "10"            /* then the mail is failed */
#define WEEK_MS "604800000"
#define PDF_TIMEOUT_MS 10000         /* billing makes one in < 50 ms */
#define PDF_FETCHERS 4               /* a batch's PDFs fetched at once (billing has 8 workers) */
#define RECOMMENDATIONS 3            /* the items {{recommendations}} lists */
#define RECOMMEND_TIMEOUT_MS 10000

/* No relay hold stands at $1: a relay that took no mail holds every mail a minute, those
   queued since too (rate_relay_down, migration 016). */
#define RELAY_TAKES "not exists (select from relay_hold where until_ms > $1)"

static long s_batch = 32;            /* MESSAGING_SEND_BATCH: the due mails a tick thread
                                        claims at once */
static long s_window = 2;            /* MESSAGING_MARK_WINDOW: the mails a tick thread may have
                                        taken by the relay and not marked sent (s_mark) */
#define S_MARK_ARRAYS 5              /* mail_sent's arrays: id, to, subject, Message-ID, event */

void
mail_prepare (pg_t *db)
{
    s_batch = config_int ("MESSAGING_SEND_BATCH", 32, 1, 1000);
    s_window = config_int ("MESSAGING_MARK_WINDOW", 2, 2, 64);
    pg_prepare (db, "mail_insert",
            "insert into mails (member_id, template_id, automation_id, event_id, event_json, kind,"
            " due_at_ms, created_at_ms, step, attachment)"
            " select $1, t.id, $3, $4, $5::jsonb, t.kind, $6, $7, $8, $9 from templates t where t.id = $2"
            " on conflict (automation_id, member_id, event_id, step) where automation_id is not null"
            " do nothing returning " MAIL_COLUMNS);
    /* A batch of due mails, claimed in one statement, each with its member and the sender:
       the claim names this connection's server process (migration 014). Automations' mails
       and the others (campaigns', one-off sends) take turns in it, each the earliest due
       first: a backlog of a renewal run's receipts, due before a campaign was sent, holds
       back none of its mails (migration 015's indexes). The sender's settings are one row, and
       the planner is told so (limit 1): the table, never analysed, was taken for 290 rows, the
       claim's estimated cost grew with the mails past PostgreSQL's JIT threshold, and from
       about 80 000 mails every claim spent 100-390 ms compiling itself (`explain analyze`). */
    pg_prepare (db, "mail_claim",
            "with automated as (select id, due_at_ms, seq from mails where status = 'queued' and claim is null"
            " and due_at_ms <= $1 and automation_id is not null and " RELAY_TAKES
            " order by due_at_ms, seq limit $2 for update skip locked),"
            " others as (select id, due_at_ms, seq from mails where status = 'queued' and claim is null"
            " and due_at_ms <= $1 and automation_id is null and " RELAY_TAKES
            " order by due_at_ms, seq limit $2 for update skip locked),"
            " c as (update mails set claim = (select mail_backend_token (a.pid, a.backend_start)"
            " from pg_stat_activity a where a.pid = pg_backend_pid ())"
            " where id in (select id from (select id, due_at_ms, seq,"
            " row_number () over (order by due_at_ms, seq) as turn from automated union all"
            " select id, due_at_ms, seq, row_number () over (order by due_at_ms, seq) from others) turns"
            " order by turn, due_at_ms, seq limit $2)"
            " returning id, claim)"
            " select m.id as mail_id, m.member_id as mail_member_id, m.template_id,"
            " coalesce (m.event_json::text, '') as event_json, m.attempts,"
            " coalesce (array_to_json (coalesce (cp.links, m.links))::text, '') as links,"
            " coalesce (m.automation_id::text, '') as automation_id,"
            " coalesce (m.campaign_id::text, '') as campaign_id, m.attachment,"
            " case when m.kind = 'marketing' and s.marketing_cap_per_week > 0 then (select count(*)"
            " from mails x where x.member_id = m.member_id and x.kind = 'marketing'"
            " and x.status = 'sent' and x.sent_at_ms > $1::bigint - " WEEK_MS ") else 0 end as marketing_week, "
            " lower (split_part (p.email, '@', 2)) as domain, coalesce (r.per_minute, 0) as domain_per_minute, "
            AUDIENCE_COLUMNS ", "
            SETTINGS_COLUMNS ", c.claim from c join mails m on m.id = c.id"
            " left join campaigns cp on cp.id = m.campaign_id"
            " left join members p on p.id = m.member_id" AUDIENCE_FACTS
            " cross join (select * from settings limit 1) s"
            " left join domain_rates r on r.domain = lower (split_part (p.email, '@', 2))"
            " order by m.due_at_ms, m.seq");
    /* Sent: the marks of the mails $1 (sent to $2 with subject $3 as Message-ID $4, arrays in
       that order) and their message.sent ($5, hex) in one statement, committed on its own;
       the address and subject stay blank when the member was erased meanwhile (canceled).
       marked: how many it marked (all, unless the claim $7 was lost); then the batch's other
       mails stopped since the claim. */
    pg_prepare (db, "mail_sent",
            "with v as (select * from unnest ($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])"
            " with ordinality as v (id, \"to\", subject, message_id, payload, n)),"
            " m as (update mails x set status = 'sent',"
            " \"to\" = case when x.status = 'canceled' then x.\"to\" else v.\"to\" end,"
            " subject = case when x.status = 'canceled' then x.subject else v.subject end,"
            " message_id = v.message_id, sent_at_ms = $6, attempts = x.attempts + 1, last_error = '',"
            " claim = null from v where x.id = v.id and x.claim = $7 returning x.id, x.member_id),"
            " e as (insert into outbox (type, aggregate_id, occurred_at, payload)"
            " select 'message.sent', m.member_id::text, to_timestamp ($6::bigint / 1000.0), decode (v.payload, 'hex')"
            " from m join v on v.id = m.id order by v.n returning 1)"
            " select (select count (*) from e) as marked, x.id from (select) one"
            " left join mails x on x.claim = $7 and x.status <> 'queued' and x.id <> all ($1::uuid[])");
    /* The batch's mails paused, canceled or erased since they were claimed: not sent. */
    pg_prepare (db, "mail_stopped", "select id from mails where claim = $1 and status <> 'queued'");
    pg_prepare (db, "mail_retry",
            "update mails set attempts = attempts + 1, last_error = $2, due_at_ms = $3, claim = null,"
            " status = case when attempts + 1 >= " ATTEMPTS_MAX " then 'failed' else 'queued' end"
            " where id = $1 returning status");
    /* The claims of a batch not gone through ($1: the batch's), and those of server processes
       that are gone (a crashed messaging, a lost connection). */
    pg_prepare (db, "mail_release", "update mails set claim = null where claim = $1");
    pg_prepare (db, "mail_release_dead",
            "update mails set claim = null where claim is not null and not exists (select 1"
            " from pg_stat_activity a where mail_backend_token (a.pid, a.backend_start) = mails.claim)");
    pg_prepare (db, "mail_links",
            "update mails set links = array (select jsonb_array_elements_text ($2::jsonb))"
            " where id = $1");
    /* A batch's automation mails' links at once: $1 {"<mail id>": ["<url>", …], …}, each
       mail found by its id (a join with jsonb_each's rows, estimated at 100, was planned as a
       scan of every mail: 20 ms a batch with 10 000 mails kept). */
    pg_prepare (db, "mail_links_batch",
            "update mails m set links = array (select jsonb_array_elements_text ($1::jsonb -> m.id::text))"
            " where m.id = any (array (select jsonb_object_keys ($1::jsonb))::uuid []) and m.links is null");
    pg_prepare (db, "mail_close",
            "update mails set status = $2, last_error = $3, \"to\" = $4, claim = null where id = $1");
    pg_prepare (db, "mail_get", "select " MAIL_COLUMNS " from mails where id = $1");
    pg_prepare (db, "mail_list",
            "select " MAIL_COLUMNS " from mails where ($1 = '' or member_id = $1::uuid)"
            " and ($2 = '' or status = $2) and ($3 = '' or campaign_id = $3::uuid)"
            " and seq < $4 order by seq desc limit $5");
}

void
mail_content_clear (mail_content_t *content)
{
    json_decref (content->member.values);
    json_decref (content->substitutions);
    if (content->settings)
        protobuf_c_message_free_unpacked (&content->settings->base, NULL);
    free (content->subject);
    free (content->html);
    free (content->text);
    if (content->pdf)
        protobuf_c_message_free_unpacked (&content->pdf->base, NULL);
    memset (content, 0, sizeof *content);
}

/* The legal footer of a marketing mail (特定電子メール法: the sender, its address, where to
   ask, how to stop), appended to part in mode. Returns a new string; frees part. */
static char *
s_footer (char *part, const mail_content_t *content, render_mode_t mode)
{
    const Kaiin__Messaging__Settings *settings = content->settings;
    const char *sender = *settings->business_name? settings->business_name: settings->from_name;
    json_t *values = json_pack ("{s:s, s:s, s:s, s:s}", "sender", sender, "address",
                                settings->postal_address, "contact", settings->contact, "url",
                                content->unsubscribe);
    const char *footer = mode == RENDER_HTML
        ? "<hr><p>送信者: {{sender}}<br>住所: {{address}}<br>お問い合わせ: {{contact}}<br>"
          "配信停止: <a href=\"{{url}}\">{{url}}</a></p>"
        : "\n\n--\n送信者: {{sender}}\n住所: {{address}}\nお問い合わせ: {{contact}}\n"
          "配信停止: {{url}}\n";
    char *rendered = render (footer, values, mode);
    json_decref (values);
    size_t size = strlen (part) + strlen (rendered) + 1;
    char *joined = malloc (size);
    if (joined)
        snprintf (joined, size, "%s%s", part, rendered);
    free (part);
    free (rendered);
    return joined;
}

/* Renders template into content, whose member and settings are loaded: the member's and the
   sender's variables, event's (borrowed; NULL: none), and for marketing the legal footer. */
static void
s_render (const Kaiin__Messaging__Template *template, json_t *event, const char *mail_id,
          mail_content_t *content)
{
    const Kaiin__Messaging__Settings *settings = content->settings;
    content->marketing = strcmp (template->kind, "marketing") == 0;
    if (content->marketing)
        unsubscribe_url (mail_id, content->unsubscribe, sizeof content->unsubscribe);
    json_t *values = json_deep_copy (content->member.values);
    json_object_set_new (values, "sender", json_pack ("{s:s, s:s, s:s, s:s, s:s}",
        "name", settings->from_name, "address", settings->from_address, "business_name",
        settings->business_name, "postal_address", settings->postal_address, "contact", settings->contact));
    json_object_set_new (values, "event", event? json_incref (event): json_object ());
    json_object_set_new (values, "unsubscribe_url", json_string (content->unsubscribe));
    content->subject = render (template->subject, values, RENDER_HEADER);
    content->html = render (template->html, values, RENDER_HTML);
    content->text = render (template->text, values, RENDER_TEXT);
    json_decref (values);
    if (content->marketing) {
        if (*content->html)
            content->html = s_footer (content->html, content, RENDER_HTML);
        if (*content->text)
            content->text = s_footer (content->text, content, RENDER_TEXT);
    }
    if (strcmp (settings->charset, "iso-2022-jp") == 0) {
        content->substitutions = json_array ();
        char **parts [] = { &content->subject, &content->html, &content->text };
        for (size_t i = 0; i < sizeof parts / sizeof parts [0]; i++) {
            char *fitted = charset_jis_fit (*parts [i], content->substitutions);
            if (fitted) {
                free (*parts [i]);
                *parts [i] = fitted;
            }
        }
    }
}

/* When template names {{recommendations}}, asks analytics for member_id's best
   RECOMMENDATIONS items and puts their descriptions, a list, into content's member values as
   "recommendations" (render.c writes it). Returns 0, or -2 when analytics did not answer (why
   in error, size bytes): the mail waits for it rather than going without the block. */
static int
s_recommend (const Kaiin__Messaging__Template *template, const char *member_id,
             mail_content_t *content, char *error, size_t size)
{
    if (!render_names (template->subject, "recommendations") && !render_names (template->html, "recommendations")
    &&  !render_names (template->text, "recommendations"))
        return 0;
    Kaiin__Analytics__RecommendationsRequest ask = KAIIN__ANALYTICS__RECOMMENDATIONS_REQUEST__INIT;
    ask.member_id = (char *) member_id;
    ask.limit = RECOMMENDATIONS;
    Kaiin__Analytics__Recommendations *answer = NULL;
    Kaiin__Status status = svc_call ("analytics.Recommendations", &ask.base,
                                     &kaiin__analytics__recommendations__descriptor,
                                     (ProtobufCMessage **) &answer, RECOMMEND_TIMEOUT_MS);
    if (status != KAIIN__STATUS__OK) {
        if (answer)
            protobuf_c_message_free_unpacked (&answer->base, NULL);
        snprintf (error, size, "analytics did not recommend items for member '%s' (status %d)",
                  member_id, (int) status);
        return -2;
    }
    json_t *list = json_array ();
    for (size_t i = 0; i < answer->n_items; i++)
        json_array_append_new (list, json_string (answer->items [i]->description));
    json_object_set_new (content->member.values, "recommendations", list);
    protobuf_c_message_free_unpacked (&answer->base, NULL);
    return 0;
}

int
mail_compose (pg_t *db, const Kaiin__Messaging__Template *template, const char *member_id,
              json_t *event, const char *mail_id, mail_content_t *content, char *error, size_t size)
{
    memset (content, 0, sizeof *content);
    int found = audience_load (db, member_id, &content->member);
    if (found != 0)
        return found;
    if (!(content->settings = settings_load (db))) {
        mail_content_clear (content);
        return -1;
    }
    if (s_recommend (template, member_id, content, error, size) == -2) {
        mail_content_clear (content);
        return -2;
    }
    s_render (template, event, mail_id, content);
    return 0;
}

int
mail_enqueue (pg_t *db, const char *template_id, const char *member_id, const char *automation_id,
              const char *event_id, const char *event_json, const char *attach, int step,
              int64_t due_ms, int64_t now_ms, char *id)
{
    char due [24], now [24], step_text [24];
    const char *params [] = { member_id, template_id, automation_id, event_id, event_json,
                              NUM (due, due_ms), NUM (now, now_ms), NUM (step_text, step),
                              attach? attach: "" };
    PGresult *result = pg_run (db, "mail_insert", 9, params);
    if (id)
        snprintf (id, 37, "%s", result && PQntuples (result) == 1? PQgetvalue (result, 0, 0): "");
    PQclear (result);
    return result? 0: -1;
}

/* Runs an update of the mail in hand. Returns 0 or -1. */
static int
s_update (pg_t *db, const char *name, int count, const char *const *params)
{
    PGresult *result = pg_run (db, name, count, params);
    PQclear (result);
    return result? 0: -1;
}

/* Why a composed mail must not go out ("" when it may), and the status it then gets. */
static const char *
s_blocked (const mail_content_t *content, const char **status)
{
    const Kaiin__Messaging__Settings *settings = content->settings;
    *status = "canceled";
    if (strcmp (content->member.status, "withdrawn") == 0)
        return "the member has withdrawn";
    *status = "suppressed";
    if (content->marketing && !content->member.marketing)
        return "no marketing consent";
    if (content->member.suppressed)
        return "the address is on the suppression list";
    *status = "capped";
    if (content->marketing && settings->marketing_cap_per_week > 0
    &&  content->marketing_week >= settings->marketing_cap_per_week)
        return "the member's weekly cap of marketing mail is reached";
    *status = "failed";
    if (!*content->member.email)
        return "the member has no email address";
    *status = "queued";
    if (!*settings->from_address)
        return "the sender's from_address is not set";
    if (content->marketing && settings_legal_gap (settings))
        return settings_legal_gap (settings);
    return "";
}

/* The composed mail as the relay gets it; message_id (128 bytes) is made of local, "@" and the
   sender's domain. */
static smtp_mail_t
s_smtp_mail (const mail_content_t *content, const char *local, char *message_id, int64_t now_ms)
{
    const Kaiin__Messaging__Settings *settings = content->settings;
    const char *at = strchr (settings->from_address, '@');
    snprintf (message_id, 128, "%s@%s", local, at? at + 1: "kaiin.invalid");
    smtp_mail_t mail = {
        settings->from_name, settings->from_address, settings->reply_to, content->member.email,
        content->subject, content->html, content->text, message_id,
        content->marketing? content->unsubscribe: NULL, now_ms,
        content->pdf? content->pdf->pdf.data: NULL, content->pdf? content->pdf->pdf.len: 0,
        content->pdf_name, content->substitutions != NULL
    };
    return mail;
}

/* A PDF of billing's that a mail of the batch attaches, fetched before the batch's first
   mail goes (s_fetch_all): attach is "invoice" or "receipt", or "" for a mail without one. */
typedef struct {
    const char *id, *attach;            /* the mail's, in the claim's result */
    const char *event;                  /* its event's variables, JSON text */
    Kaiin__Billing__InvoicePdf *pdf;    /* NULL: none (or none to fetch) */
    char name [96];                     /* the PDF's file name: 領収書_<number>.pdf */
    char error [256];                   /* why billing could not make it now, else "" */
} s_fetch_t;

/* Fetches billing's PDF of the invoice the event names, the invoice itself or its receipt
   (fetch->attach), into fetch. When billing cannot answer now, error says why: the mail waits
   for it like a relay that is down. A PDF that billing refuses for good (no such invoice any
   more) is logged and left out: the mail still says what happened. */
static void
s_attach (s_fetch_t *fetch)
{
    bool receipt = strcmp (fetch->attach, "receipt") == 0;
    json_t *event = json_loads (fetch->event, 0, NULL);
    Kaiin__Billing__InvoicePdfRequest ask = KAIIN__BILLING__INVOICE_PDF_REQUEST__INIT;
    ask.id = (char *) json_string_value (json_object_get (event, "id"));
    ask.receipt = receipt;
    const char *number = json_string_value (json_object_get (event, "number"));
    snprintf (fetch->name, sizeof fetch->name, "%s_%s.pdf", receipt? "領収書": "請求書",
              number? number: "");
    Kaiin__Status status = KAIIN__STATUS__OK;
    if (!ask.id)
        log_warn ("mail '%s': its event names no invoice, sent without the %s", fetch->id, fetch->attach);
    else
        status = svc_call ("billing.InvoicePdf", &ask.base, &kaiin__billing__invoice_pdf__descriptor,
                           (ProtobufCMessage **) &fetch->pdf, PDF_TIMEOUT_MS);
    if (status != KAIIN__STATUS__OK && fetch->pdf) {
        protobuf_c_message_free_unpacked (&fetch->pdf->base, NULL);
        fetch->pdf = NULL;
    }
    if (status == KAIIN__STATUS__UNAVAILABLE || status == KAIIN__STATUS__DEADLINE_EXCEEDED
    ||  status == KAIIN__STATUS__INTERNAL)
        snprintf (fetch->error, sizeof fetch->error, "billing did not make the %s's PDF (status %d)",
                  fetch->attach, (int) status);
    else
    if (status != KAIIN__STATUS__OK)
        log_warn ("mail '%s': billing refused the %s of invoice '%s' (status %d), sent without it",
                  fetch->id, fetch->attach, ask.id, (int) status);
    json_decref (event);
}

/* The fetching threads: PDF_FETCHERS - 1 of them, started on the first batch that attaches a
   PDF and kept for the process's life, so that each keeps its broker client (svc_call's, one
   a thread: a socket and its CurveZMQ handshake) from one batch to the next, where a thread
   made for each batch made a new client each time. A tick thread hands its batch's fetches to
   them (s_fetch_all) and takes its own share. */
typedef struct _s_fetch_job_t {
    s_fetch_t *fetches;
    int count, next;                    /* next: the first fetch nobody took yet */
    int running;                        /* fetches taken and not finished */
    struct _s_fetch_job_t *later;       /* the queue's next job */
} s_fetch_job_t;

static pthread_mutex_t s_fetch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_fetch_queued = PTHREAD_COND_INITIALIZER;     /* a job has work */
static pthread_cond_t s_fetch_done = PTHREAD_COND_INITIALIZER;       /* a fetch finished */
static s_fetch_job_t *s_fetch_queue;    /* the jobs with fetches nobody took yet */
static pthread_once_t s_fetchers_once = PTHREAD_ONCE_INIT;

/* Takes the next fetch of job that attaches a PDF, with s_fetch_lock held, dropping the job
   from the queue once every fetch is taken. Returns it, or NULL when none is left. */
static s_fetch_t *
s_fetch_take (s_fetch_job_t *job)
{
    while (job->next < job->count && !*job->fetches [job->next].attach)
        job->next++;
    s_fetch_t *fetch = job->next < job->count? &job->fetches [job->next++]: NULL;
    if (fetch)
        job->running++;
    if (job->next >= job->count)        /* none left to take: out of the queue */
        for (s_fetch_job_t **at = &s_fetch_queue; *at; at = &(*at)->later)
            if (*at == job) {
                *at = job->later;
                break;
            }
    return fetch;
}

/* Fetches fetch of job, s_fetch_lock held on entry and on return. */
static void
s_fetch_run (s_fetch_job_t *job, s_fetch_t *fetch)
{
    pthread_mutex_unlock (&s_fetch_lock);
    s_attach (fetch);
    pthread_mutex_lock (&s_fetch_lock);
    job->running--;
    pthread_cond_broadcast (&s_fetch_done);
}

static void *
s_fetcher (void *arg)
{
    (void) arg;
    pthread_mutex_lock (&s_fetch_lock);
    while (true) {
        while (!s_fetch_queue)
            pthread_cond_wait (&s_fetch_queued, &s_fetch_lock);
        s_fetch_job_t *job = s_fetch_queue;
        s_fetch_t *fetch = s_fetch_take (job);
        if (fetch)
            s_fetch_run (job, fetch);
    }
    return NULL;
}

static void
s_fetchers_start (void)
{
    for (int t = 1; t < PDF_FETCHERS; t++) {
        pthread_t thread;
        if (pthread_create (&thread, NULL, s_fetcher, NULL) == 0)
            pthread_detach (thread);
        else
            log_warn ("cannot start a thread fetching billing's PDFs: the tick threads fetch them");
    }
}

/* Fetches the PDFs the batch's mails attach (count fetches): this thread and the fetching
   threads (at most PDF_FETCHERS at a time for one batch) take them one by one. The caller
   holds no transaction: billing's rendering holds no lock or transaction of messaging's, and a
   renewal run's receipts go as fast as billing makes their PDFs with its workers in parallel,
   not one after the other. A PDF of a mail that is then not sent (paused, withdrawn …) was
   fetched in vain: it is freed with the batch. Returns how many mails attach one. */
static int
s_fetch_all (s_fetch_t *fetches, int count)
{
    int wanted = 0;
    for (int i = 0; i < count; i++)
        wanted += *fetches [i].attach != 0;
    if (wanted == 0)
        return 0;
    pthread_once (&s_fetchers_once, s_fetchers_start);
    s_fetch_job_t job = { fetches, count, 0, 0, NULL };
    pthread_mutex_lock (&s_fetch_lock);
    if (wanted > 1) {                   /* one is this thread's alone */
        s_fetch_job_t **at = &s_fetch_queue;
        while (*at)
            at = &(*at)->later;
        *at = &job;
        pthread_cond_broadcast (&s_fetch_queued);
    }
    s_fetch_t *fetch;
    while ((fetch = s_fetch_take (&job)))
        s_fetch_run (&job, fetch);
    while (job.running > 0)             /* the fetching threads' last ones */
        pthread_cond_wait (&s_fetch_done, &s_fetch_lock);
    pthread_mutex_unlock (&s_fetch_lock);
    return wanted;
}

/* A hard bounce: the mail is bounced, its address suppressed, message.bounced appended. */
static int
s_bounce (pg_t *db, const char *id, const char *member_id, const char *to, const char *error,
          int64_t now_ms)
{
    const char *close [] = { id, "bounced", error, to };
    Kaiin__Messaging__Bounced bounced = KAIIN__MESSAGING__BOUNCED__INIT;
    bounced.mail_id = (char *) id;
    bounced.member_id = (char *) member_id;
    bounced.to = (char *) to;
    bounced.reason = (char *) error;
    bounced.at_ms = now_ms;
    return s_update (db, "mail_close", 4, close) == 0
        && suppression_bounce (db, to, error, id, now_ms) == 0
        && outbox_append (db, "message.bounced", member_id, &bounced.base, now_ms) == 0? 0: -1;
}

/* A tick thread's batch: its claim, and the marks of the mails the relay took. A mark is one
   statement for the mails taken since the mark before was sent, sent without waiting
   (pg_send) and read back once it has committed (s_collect); while one is in flight, the
   thread sends the next mails and keeps them pending for the next mark. At most
   MESSAGING_MARK_WINDOW mails are taken and not marked at any moment (s_mark). */
typedef struct {
    pg_t *db;
    const char *claim;
    int marking;                        /* the mails of the mark in flight, or 0 */
    char *marking_ids;                  /* their ids, an array literal (for the log) */
    int pending;                        /* the mails taken since, for the next mark */
    pg_buffer_t marks [S_MARK_ARRAYS];  /* theirs: id, to, subject, Message-ID, message.sent */
    bool lost;                          /* a mark failed: the batch stops */
    const char *sending;                /* the mail going to the relay now */
    bool stopped_now;                   /* it was stopped before its final "." */
    char *stopped;                      /* the ids of the batch's mails paused, canceled or
                                           erased since the claim, as last read: "id id …" */
    size_t stopped_size;
    s_fetch_t *fetches;                 /* each row's PDF, fetched after the claim */
    json_t **links;                     /* each row's automation mail's links, kept after the
                                           claim (s_keep_batch_links), else NULL */
    int64_t now_ms;                     /* the tick's: each mail's sent_at_ms */
} s_batch_t;

/* Keeps the ids in column of result's rows (NULLs skipped) as the batch's stopped mails. */
static void
s_stopped_keep (s_batch_t *batch, PGresult *result, int column)
{
    size_t used = 0;
    for (int row = 0; row < PQntuples (result); row++) {
        if (PQgetisnull (result, row, column) || used + 38 > batch->stopped_size)
            continue;
        used += (size_t) snprintf (batch->stopped + used, batch->stopped_size - used, "%s ",
                                   PQgetvalue (result, row, column));
    }
    batch->stopped [used] = 0;
}

/* True when mail id of the batch was paused, canceled or erased since the claim. */
static bool
s_stopped (const s_batch_t *batch, const char *id)
{
    return *id && strstr (batch->stopped, id) != NULL;
}

/* Reads back the mark in flight, if any, waiting for its commit. Returns 0, or -1 when it
   failed or did not find every one of its mails still held by the batch's claim (the
   connection was lost and the claim let go): those mails may go again, and the batch stops. */
static int
s_collect (s_batch_t *batch)
{
    if (batch->marking == 0)
        return batch->lost? -1: 0;
    PGresult *result = pg_wait (batch->db);
    if (!result || PQntuples (result) < 1 || atoi (PQgetvalue (result, 0, 0)) != batch->marking) {
        log_error ("mails %s: the relay took them, but they could not be marked sent", batch->marking_ids);
        batch->lost = true;
    }
    else
        s_stopped_keep (batch, result, 1);
    PQclear (result);
    batch->marking = 0;
    return batch->lost? -1: 0;
}

/* Sends the mark of the pending mails, one statement that marks them sent and appends their
   message.sent, committing on its own (no mark is in flight, no transaction open). Returns 0
   or -1 (the batch stops). */
static int
s_mark_send (s_batch_t *batch)
{
    assert (batch->marking == 0 && batch->pending > 0);
    const char *params [S_MARK_ARRAYS + 2];
    for (int i = 0; i < S_MARK_ARRAYS; i++) {
        pg_array_close (&batch->marks [i]);
        params [i] = batch->marks [i].text;
    }
    char now [24];
    params [S_MARK_ARRAYS] = NUM (now, batch->now_ms);
    params [S_MARK_ARRAYS + 1] = batch->claim;
    if (pg_send (batch->db, "mail_sent", S_MARK_ARRAYS + 2, params) == -1) {
        log_error ("mails %s: the relay took them, but they could not be marked sent", params [0]);
        batch->lost = true;
    }
    else {
        free (batch->marking_ids);
        batch->marking_ids = strdup (params [0]);
        batch->marking = batch->pending;
    }
    batch->pending = 0;
    for (int i = 0; i < S_MARK_ARRAYS; i++)
        batch->marks [i].used = 0;
    return batch->lost? -1: 0;
}

/* Settles every mark: the one in flight read back, the pending mails marked and that mark
   read back too, before the connection serves anything else (a transaction, a read) or the
   batch ends. Returns 0 or -1 (as s_collect). */
static int
s_settle (s_batch_t *batch)
{
    while (batch->marking > 0 || batch->pending > 0) {
        if (s_collect (batch) == -1)
            return -1;
        if (batch->pending > 0 && s_mark_send (batch) == -1)
            return -1;
    }
    return batch->lost? -1: 0;
}

/* Mail id, which the relay took as message_id, pending for a mark: sent now when no mark is in
   flight, or once the one in flight has committed. The thread waits for that commit only
   when the window is full (s_window mails taken and not marked); else the mark goes with the
   first 250 after the commit, with every mail taken meanwhile. Returns 0 or -1. */
static int
s_mark (s_batch_t *batch, const char *id, const char *member_id, const char *template_id,
        const mail_content_t *content, const char *message_id)
{
    Kaiin__Messaging__Sent sent = KAIIN__MESSAGING__SENT__INIT;
    sent.mail_id = (char *) id;
    sent.member_id = (char *) member_id;
    sent.template_id = (char *) template_id;
    sent.message_id = (char *) message_id;
    sent.sent_at_ms = batch->now_ms;
    char *payload = outbox_hex (&sent.base);
    const char *values [S_MARK_ARRAYS] = { id, content->member.email, content->subject, message_id, payload };
    for (int i = 0; i < S_MARK_ARRAYS; i++)
        pg_array_add (&batch->marks [i], values [i], i > 0);
    free (payload);
    batch->pending++;
    if (batch->marking > 0
    &&  (batch->marking + batch->pending >= s_window || pg_ready (batch->db))
    &&  s_collect (batch) == -1)
        return -1;
    return batch->marking == 0? s_mark_send (batch): 0;
}

/* smtp_mail_t's before_end: the mark in flight read back if it has committed (and the
   pending mails' mark sent then), without waiting; this mail is not taken when a mark failed,
   nor when it was paused, canceled or erased as last read (by the mark read back last). */
static int
s_before_end (void *arg)
{
    s_batch_t *batch = arg;
    if (batch->marking > 0 && pg_ready (batch->db) && s_collect (batch) == -1)
        return -1;
    if (batch->marking == 0 && batch->pending > 0 && s_mark_send (batch) == -1)
        return -1;
    if (batch->lost)
        return -1;
    batch->stopped_now = s_stopped (batch, batch->sending);
    return batch->stopped_now? -1: 0;
}

/* Keeps the tracked links of an automation's mail, the links of its template's HTML part, on
   the mail (a click finds them there), into *links. Returns 0 or -1. */
static int
s_keep_links (pg_t *db, const char *id, const Kaiin__Messaging__Template *template, json_t **links)
{
    *links = click_links (template->html);
    char *text = json_dumps (*links, JSON_COMPACT);
    const char *params [] = { id, text };
    int rc = s_update (db, "mail_links", 2, params);
    free (text);
    return rc;
}

/* Puts a mail back for a later attempt, or fails it after ATTEMPTS_MAX. Returns 0, 1 when it
   failed it, or -1. */
static int
s_retry (pg_t *db, const char *id, const char *error, int attempts, int64_t now_ms)
{
    char due [24];
    const char *params [] = { id, error, NUM (due, messaging_retry_at (attempts, now_ms)) };
    PGresult *result = pg_run (db, "mail_retry", 3, params);
    int rc = !result? -1: PQntuples (result) == 1 && strcmp (PQgetvalue (result, 0, 0), "failed") == 0;
    PQclear (result);
    return rc;
}

/* Opens the mail's transaction the first time something needs one: a mail that simply goes
   needs none before the relay has it. Returns 0 or -1. */
static int
s_open (s_batch_t *batch, bool *open)
{
    if (*open)
        return 0;
    if (s_settle (batch) == -1 || pg_begin (batch->db) == -1)
        return -1;
    *open = true;
    return 0;
}

/* The claimed mail of row before the relay, content composed (found: audience_row's answer),
   in a transaction s_open opens when it needs one: 2 when it may go now, 0 when it was put
   back, closed or put off (its claim let go), 1 when it failed (its campaign may pause
   itself), -1 on a database error. waiting: why another service did not give what the mail
   needs (analytics' recommendations, billing's PDF), else "": the mail is put back before
   it counts in a sending rate. An automation's mail keeps its template's links (*links). */
static int
s_decide (s_batch_t *batch, bool *open, PGresult *due, int row, const Kaiin__Messaging__Template *template,
          int found, const mail_content_t *content, const char *waiting, json_t **links,
          int64_t now_ms)
{
    pg_t *db = batch->db;
    const char *id = PQgetvalue (due, row, 0);
    int attempts = atoi (PQgetvalue (due, row, 4));
    const char *status = "", *why = found == 0? s_blocked (content, &status): "";
    if (found == 1)                     /* billing's event may come before member's: wait for
                                           it (an erasure cancels the queued mails itself) */
        return s_open (batch, open) == -1? -1: s_retry (db, id, "the member is not known yet", attempts, now_ms);
    if (*why && strcmp (status, "queued") == 0)
        return s_open (batch, open) == -1? -1: s_retry (db, id, why, attempts, now_ms);
    if (*why) {
        const char *close [] = { id, status, why, content->member.email };
        if (s_open (batch, open) == -1 || s_update (db, "mail_close", 4, close) == -1)
            return -1;
        return strcmp (status, "failed") == 0;
    }
    if (*waiting)                       /* like a relay that is down: later, never without them */
        return s_open (batch, open) == -1? -1: s_retry (db, id, waiting, attempts, now_ms);
    int domain_rate = atoi (PQgetvalue (due, row, PQfnumber (due, "domain_per_minute")));
    if (domain_rate > 0 || content->settings->rate_per_minute > 0) {
        /* 0: over a sending rate, put off to the next minute with the others no thread holds */
        if (s_open (batch, open) == -1)
            return -1;
        int admitted = rate_admit (db, id, PQgetvalue (due, row, PQfnumber (due, "domain")),
                                   domain_rate, content->settings->rate_per_minute, now_ms);
        if (admitted != 1)
            return admitted;
    }
    if (*PQgetvalue (due, row, 6) && !*links)   /* an automation's: its template's links now */
        if (s_open (batch, open) == -1 || s_keep_links (db, id, template, links) == -1)
            return -1;
    return 2;
}

/* Composes, sends and marks the claimed mail of row (see "Delivery" in the README): what is
   decided before the relay commits first; a mail the relay took is marked by s_mark; a
   refusal is written in a transaction of its own. Returns 0 (go on with the batch), -1 on a
   database error or a lost claim, -3 when the relay takes no mail now (the batch's claims
   are let go and every queued mail waits a minute). */
static int
s_handle (s_batch_t *batch, PGresult *due, int row, const Kaiin__Messaging__Template *template,
          int64_t now_ms)
{
    pg_t *db = batch->db;
    const char *id = PQgetvalue (due, row, 0), *member_id = PQgetvalue (due, row, 1);
    if (s_stopped (batch, id))          /* its claim is let go at the batch's end */
        return 0;
    const char *template_id = PQgetvalue (due, row, 2), *event_text = PQgetvalue (due, row, 3);
    int attempts = atoi (PQgetvalue (due, row, 4));
    json_t *links = batch->links [row]? json_incref (batch->links [row])        /* kept now */
                  : json_loads (PQgetvalue (due, row, 5), 0, NULL);         /* a campaign's */
    const char *campaign_id = PQgetvalue (due, row, 7);
    json_t *event = *event_text? json_loads (event_text, 0, NULL): NULL;
    mail_content_t content;
    memset (&content, 0, sizeof content);
    int found = audience_row (due, row, &content.member);
    char unrecommended [256] = "";      /* why analytics gave no recommendations, when asked */
    if (found == 0) {
        content.settings = (Kaiin__Messaging__Settings *)
            pg_row_message (due, row, &kaiin__messaging__settings__descriptor);
        s_recommend (template, member_id, &content, unrecommended, sizeof unrecommended);
        s_render (template, event, id, &content);
        content.marketing_week = atol (PQgetvalue (due, row, PQfnumber (due, "marketing_week")));
    }
    bool open = false;
    s_fetch_t *fetch = &batch->fetches [row];
    const char *waiting = *unrecommended? unrecommended: fetch->error;
    /* rc: 1 when the mail failed or bounced (its campaign may pause itself) */
    int rc = s_decide (batch, &open, due, row, template, found, &content, waiting, &links, now_ms);
    char error [512] = "";
    bool go = rc == 2;
    if (go) {
        if (json_array_size (links) && *content.html)
            content.html = click_rewrite (content.html, id, links);
        content.pdf = fetch->pdf;       /* fetched before: no call to billing from here on */
        fetch->pdf = NULL;
        snprintf (content.pdf_name, sizeof content.pdf_name, "%s", fetch->name);
        rc = 0;
        if (open) {                     /* the rate counted and the links kept, before the send */
            open = false;
            if (pg_commit (db) == -1) {
                pg_rollback (db);
                rc = -1;
            }
        }
        go = rc == 0;
    }
    if (go) {
        char message_id [128];
        smtp_mail_t mail = s_smtp_mail (&content, id, message_id, now_ms);
        mail.before_end = s_before_end;
        mail.before_end_arg = batch;
        batch->sending = id;
        batch->stopped_now = false;
        smtp_result_t result = smtp_send (&mail, error, sizeof error);
        batch->sending = "";
        if (batch->lost)                /* the mail before could not be marked: not sent */
            rc = -1;
        else
        if (batch->stopped_now)         /* paused, canceled or erased: its "." never went */
            rc = 0;
        else
        if (result == SMTP_SENT)
            rc = s_mark (batch, id, member_id, template_id, &content, message_id);
        else {
            log_warn ("mail '%s': %s", id, error);
            rc = s_open (batch, &open) == -1? -1
               : result == SMTP_PERMANENT? (s_bounce (db, id, member_id, content.member.email, error, now_ms) == 0? 1: -1)
               : result == SMTP_TEMPORARY? -2: -3;
        }
    }
    if (rc == -2)
        rc = s_open (batch, &open) == -1? -1: s_retry (db, id, error, attempts, now_ms);
    else
    if (rc == -3) {                     /* not this mail's fault: none goes for a minute */
        const char *params [] = { batch->claim };
        if (s_settle (batch) == -1 || s_update (db, "mail_release", 1, params) == -1
        ||  rate_relay_down (db, id, error, now_ms) == -1)
            rc = -1;
    }
    if (rc == 1 && *campaign_id)
        rc = s_open (batch, &open) == -1? -1: campaign_guard (db, campaign_id, now_ms);
    mail_content_clear (&content);
    json_decref (event);
    json_decref (links);
    if (open && rc != -1) {             /* and what was stopped meanwhile */
        const char *params [] = { batch->claim };
        PGresult *stopped = pg_run (db, "mail_stopped", 1, params);
        if (stopped)
            s_stopped_keep (batch, stopped, 0);
        rc = stopped? rc: -1;
        PQclear (stopped);
    }
    if (open && (rc == -1 || pg_commit (db) == -1)) {
        pg_rollback (db);
        return -1;
    }
    return rc == -1 || rc == -3? rc: 0;
}

/* The templates a batch's mails use, each loaded once for the batch (automations' mails and
   campaigns' take turns in it). */
typedef struct {
    Kaiin__Messaging__Template **loaded;
    int count;
} s_templates_t;

/* Template id for batch, loaded on first use (once the mark in flight, if any, is read).
   Returns it (borrowed), or NULL when there is no such template or on a database error (then
   *failed). */
static const Kaiin__Messaging__Template *
s_template (s_batch_t *batch, s_templates_t *templates, const char *id, bool *failed)
{
    *failed = false;
    for (int i = 0; i < templates->count; i++)
        if (strcmp (templates->loaded [i]->id, id) == 0)
            return templates->loaded [i];
    if (s_settle (batch) == -1) {
        *failed = true;
        return NULL;
    }
    Kaiin__Messaging__Template *template = template_load (batch->db, id, failed);
    if (template)
        templates->loaded [templates->count++] = template;
    return template;
}

/* Keeps the tracked links of the batch's automation mails that have none yet (those of each
   one's template's HTML part: a click finds them there) in one statement for the whole batch,
   committed on its own before any of them goes, into links [row] (each mail kept them in a
   transaction of its own before: s_keep_links, still there for one this missed). Returns 0
   or -1. */
static int
s_keep_batch_links (s_batch_t *batch, PGresult *due, int rows, s_templates_t *templates, json_t **links)
{
    json_t *kept = json_object ();
    int rc = 0;
    for (int row = 0; row < rows && rc == 0; row++) {
        if (!*PQgetvalue (due, row, 6) || *PQgetvalue (due, row, 5))    /* none, or kept */
            continue;
        bool failed;
        const Kaiin__Messaging__Template *template = s_template (batch, templates, PQgetvalue (due, row, 2), &failed);
        if (failed)
            rc = -1;
        else
        if (template) {
            links [row] = click_links (template->html);
            json_object_set (kept, PQgetvalue (due, row, 0), links [row]);
        }
    }
    if (rc == 0 && json_object_size (kept) > 0) {
        char *text = json_dumps (kept, JSON_COMPACT);
        const char *params [] = { text };
        rc = s_update (batch->db, "mail_links_batch", 1, params);
        free (text);
    }
    json_decref (kept);
    return rc;
}

int
mail_tick (pg_t *db, int64_t now_ms)
{
    char now [24], limit [24];
    const char *params [] = { NUM (now, now_ms), NUM (limit, s_batch) };
    PGresult *due = pg_run (db, "mail_claim", 2, params);
    if (!due)
        return -1;
    int rows = PQntuples (due);
    if (rows == 0) {                    /* nothing due: the claims of the dead go back */
        PQclear (due);
        PGresult *released = pg_run (db, "mail_release_dead", 0, NULL);
        int rc = released? atoi (PQcmdTuples (released)): -1;
        PQclear (released);
        return rc;
    }
    char claim [64];
    snprintf (claim, sizeof claim, "%s", PQgetvalue (due, 0, PQfnumber (due, "claim")));
    size_t stopped_size = (size_t) rows * 37 + 1;
    s_batch_t batch = { .db = db, .claim = claim, .sending = "", .stopped = calloc (1, stopped_size),
                        .stopped_size = stopped_size, .fetches = calloc ((size_t) rows, sizeof (s_fetch_t)),
                        .links = calloc ((size_t) rows, sizeof (json_t *)), .now_ms = now_ms };
    assert (batch.stopped && batch.fetches && batch.links);
    for (int i = 0; i < rows; i++)
        batch.fetches [i] = (s_fetch_t) { .id = PQgetvalue (due, i, 0), .event = PQgetvalue (due, i, 3),
                                          .attach = PQgetvalue (due, i, 8) };
    s_templates_t templates = { calloc ((size_t) rows, sizeof (Kaiin__Messaging__Template *)), 0 };
    assert (templates.loaded);
    int rc = s_keep_batch_links (&batch, due, rows, &templates, batch.links), row = 0;
    if (rc == 0 && s_fetch_all (batch.fetches, rows) > 0) {    /* outside any transaction; then what was
                                                       paused, canceled or erased meanwhile */
        const char *mine [] = { claim };
        PGresult *stopped = pg_run (db, "mail_stopped", 1, mine);
        if (stopped)
            s_stopped_keep (&batch, stopped, 0);
        rc = stopped? 0: -1;
        PQclear (stopped);
    }
    for (row = 0; row < rows && rc == 0; row++) {
        bool failed;
        const Kaiin__Messaging__Template *template = s_template (&batch, &templates, PQgetvalue (due, row, 2), &failed);
        rc = template? s_handle (&batch, due, row, template, now_ms): -1;
    }
    for (int i = 0; i < templates.count; i++)
        protobuf_c_message_free_unpacked (&templates.loaded [i]->base, NULL);
    free (templates.loaded);
    for (int i = 0; i < rows; i++)      /* those of mails not sent */
        if (batch.fetches [i].pdf)
            protobuf_c_message_free_unpacked (&batch.fetches [i].pdf->base, NULL);
    free (batch.fetches);
    for (int i = 0; i < rows; i++)
        json_decref (batch.links [i]);
    free (batch.links);
    PQclear (due);
    if (s_settle (&batch) == -1)
        rc = -1;
    for (int i = 0; i < S_MARK_ARRAYS; i++)
        free (batch.marks [i].text);
    free (batch.marking_ids);
    if (rc == 0 && *batch.stopped) {    /* the mails stopped since the claim */
        const char *release [] = { claim };
        rc = s_update (db, "mail_release", 1, release);
    }
    free (batch.stopped);
    if (rc == -1) {                     /* the rest of the batch waits for the next tick */
        const char *release [] = { claim };
        s_update (db, "mail_release", 1, release);
        return -1;
    }
    return row;
}

int
mail_send_test (pg_t *db, const Kaiin__Messaging__Template *template, const char *member_id,
                const char *to, int64_t now_ms, Kaiin__Messaging__CampaignTestReply *answer,
                char *error, size_t size)
{
    mail_content_t content;
    memset (&content, 0, sizeof content);
    int found = 0;
    if (*member_id)
        found = audience_load (db, member_id, &content.member);
    else
        audience_sample (&content.member, to);
    if (found != 0)
        return found;
    int rc = (content.settings = settings_load (db))? 0: -1;
    if (rc == 0 && *member_id)          /* a sample member has none */
        rc = s_recommend (template, member_id, &content, error, size) == -2? -3: 0;
    if (rc == 0) {
        s_render (template, NULL, SAMPLE_MAIL_ID, &content);
        snprintf (content.member.email, sizeof content.member.email, "%s", to);
        size_t length = strlen (content.subject) + sizeof "[テスト] ";
        char *subject = malloc (length);
        snprintf (subject, length, "[テスト] %s", content.subject);
        free (content.subject);
        content.subject = subject;
        char local [64], message_id [128];
        snprintf (local, sizeof local, "test.%lld.%d", (long long) now_ms, rand () % 1000000);
        smtp_mail_t mail = s_smtp_mail (&content, local, message_id, now_ms);
        smtp_result_t result = smtp_send (&mail, error, size);
        rc = result == SMTP_SENT? 0: -2;
        if (rc == 0) {
            answer->to = strdup (to);
            answer->subject = strdup (content.subject);
            answer->message_id = strdup (message_id);
            answer->sent_at_ms = now_ms;
        }
    }
    mail_content_clear (&content);
    return rc;
}

int
mail_api_send (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__SendRequest *send = (Kaiin__Messaging__SendRequest *)
        svc_unpack (request, &kaiin__messaging__send_request__descriptor, reply);
    if (!send)
        return -1;
    bool failed;
    Kaiin__Messaging__Template *template = template_load (request->db, send->template_id, &failed);
    audience_member_t member;
    int found = failed? -1: audience_load (request->db, send->member_id, &member);
    int rc = -1;
    if (found == -1)
        svc_db_fail (reply, request->db);
    else {
        if (!template)
            svc_field_error (reply, "template_id", "is not a template");
        if (found == 1)
            svc_field_error (reply, "member_id", "is not a member messaging knows");
        json_decref (member.values);
    }
    if (reply->status == KAIIN__STATUS__OK) {
        char now [24];
        int64_t now_ms = messaging_now (request);
        const char *params [] = { send->member_id, send->template_id, NULL, "", NULL,
                                  NUM (now, now_ms), now, "0", "" };
        rc = messaging_reply_row (request, reply, "mail_insert", 9, params,
                                  &kaiin__messaging__mail__descriptor, "template not found");
    }
    if (template)
        protobuf_c_message_free_unpacked (&template->base, NULL);
    protobuf_c_message_free_unpacked (&send->base, NULL);
    return rc;
}

int
mail_api_get (svc_request_t *request, svc_reply_t *reply)
{
    return messaging_reply_by_id (request, reply, "mail_get", &kaiin__messaging__mail__descriptor, "mail not found");
}

int
mail_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__ListRequest *list = (Kaiin__Messaging__ListRequest *)
        svc_unpack (request, &kaiin__messaging__list_request__descriptor, reply);
    if (!list)
        return -1;
    if (*list->member_id && !messaging_uuid (list->member_id))
        svc_field_error (reply, "member_id", "must be a member id");
    if (*list->campaign_id && !messaging_uuid (list->campaign_id))
        svc_field_error (reply, "campaign_id", "must be a campaign id");
    const char *params [5] = { list->member_id, list->status, list->campaign_id };
    int rc = messaging_reply_list (request, reply, "mail_list", 5, params, list,
                                   &kaiin__messaging__mail_list__descriptor);
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}
