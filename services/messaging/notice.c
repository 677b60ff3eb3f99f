/* notice.c - mails to the business's owners, not to members: an analytics alert (alert.raised)
   is queued as a notice in the consumer's transaction, once per event, and the tick sends it
   to each owner (member.StaffList, asked outside any transaction), one address per
   transaction */
#include "notice.h"
#include "link.h"
#include "log.h"
#include "settings.h"
#include "smtp.h"
#include "staff.pb-c.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ATTEMPTS_MAX "10"               /* then the notice is failed */
#define STAFF_TIMEOUT_MS 5000
#define STAFF_PAGES_MAX 20              /* 2 000 accounts */
#define JST_OFFSET_S (9 * 3600)

void
notice_prepare (pg_t *db)
{
    pg_prepare (db, "notice_insert",
            "insert into staff_notices (event_id, kind, subject, text, due_at_ms, created_at_ms)"
            " values ($1, 'alert', $2, $3, $4, $4) on conflict (event_id) do nothing");
    /* the notice, and the first of its addresses not sent to yet ("" before they are read) */
    pg_prepare (db, "notice_due",
            "select n.id, n.subject, n.text, n.attempts, n.recipients is not null,"
            " coalesce ((select r from unnest (n.recipients) with ordinality as u (r, k)"
            "  where r <> all (n.sent_to) order by k limit 1), '')"
            " from staff_notices n where n.status = 'queued' and n.due_at_ms <= $1"
            " order by n.due_at_ms, n.seq limit 1 for update skip locked");
    pg_prepare (db, "notice_recipients",
            "update staff_notices set recipients = $2::text [],"
            " status = case when cardinality ($2::text []) = 0 then 'failed' else status end,"
            " last_error = case when cardinality ($2::text []) = 0 then 'no owner to tell' else '' end"
            " where id = $1 and recipients is null and status = 'queued'");
    pg_prepare (db, "notice_sent_to",
            "update staff_notices set sent_to = sent_to || $2::text, sent_at_ms = $3, last_error = '',"
            " status = case when cardinality (sent_to) + 1 >= cardinality (recipients) then 'sent'"
            " else status end where id = $1");
    pg_prepare (db, "notice_close", "update staff_notices set status = 'sent' where id = $1");
    pg_prepare (db, "notice_retry",
            "update staff_notices set attempts = attempts + 1, last_error = $2, due_at_ms = $3,"
            " status = case when attempts + 1 >= " ATTEMPTS_MAX " then 'failed' else 'queued' end"
            " where id = $1");
}

/* What each rule watches, in the words of the subject. */
static const char *
s_rule_words (const char *rule)
{
    static const char *const words [][2] = {
        { "inquiries_spike", "問い合わせの急増" }, { "payment_failures_spike", "決済失敗の急増" },
        { "plan_churn", "プランの解約率の上昇" }, { "mrr_drop", "MRR の減少" } };
    for (size_t i = 0; i < sizeof words / sizeof words [0]; i++)
        if (strcmp (words [i][0], rule) == 0)
            return words [i][1];
    return rule;
}

int
notice_alert (pg_t *db, const Kaiin__Event *event, const Kaiin__Analytics__Alert *alert, int64_t now_ms)
{
    char subject [256], text [2048], when [64], url [600], due [24];
    snprintf (subject, sizeof subject, "【Kaiin アラート】%s%s%s（%s）", s_rule_words (alert->rule),
              *alert->subject? " ": "", alert->subject, alert->period);
    time_t seconds = (time_t) (alert->raised_at_ms / 1000) + JST_OFFSET_S;
    struct tm jst;
    gmtime_r (&seconds, &jst);
    strftime (when, sizeof when, "%Y年%-m月%-d日 %H:%M（日本時間）", &jst);
    link_url ("/", "#/dashboard", url, sizeof url);
    snprintf (text, sizeof text,
              "Kaiin がアラートを上げました。\n\n"
              "内容: %s\n対象の期間: %s\n発生: %s\n\n"
              "ダッシュボードで内容を確かめ、対応したら「確認済み」にしてください。\n%s\n\n"
              "このメールはオーナーのアカウントに送られています。",
              alert->message, alert->period, when, url);
    const char *params [] = { event->id, subject, text, NUM (due, now_ms) };
    PGresult *result = pg_run (db, "notice_insert", 4, params);
    PQclear (result);
    return result? 0: -1;
}

/* The addresses of the enabled owners, as a text [] literal the caller frees, or NULL when the
   member service did not answer. */
static char *
s_owners (void)
{
    pg_buffer_t list = { 0 };
    pg_buffer_append (&list, "{", 1);
    Kaiin__Staff__ListRequest ask = KAIIN__STAFF__LIST_REQUEST__INIT;
    ask.limit = 100;
    char cursor [128] = "";
    int found = 0;
    for (int page = 0; page < STAFF_PAGES_MAX; page++) {
        ask.cursor = cursor;
        Kaiin__Staff__ListReply *reply = NULL;
        Kaiin__Status status = svc_call ("member.StaffList", &ask.base, &kaiin__staff__list_reply__descriptor,
                                         (ProtobufCMessage **) &reply, STAFF_TIMEOUT_MS);
        if (status != KAIIN__STATUS__OK) {
            if (reply)
                protobuf_c_message_free_unpacked (&reply->base, NULL);
            free (list.text);
            return NULL;
        }
        for (size_t i = 0; i < reply->n_staff; i++) {
            const Kaiin__Staff__Staff *staff = reply->staff [i];
            if (strcmp (staff->role, "owner") != 0 || staff->disabled || !*staff->email)
                continue;
            if (found++)
                pg_buffer_append (&list, ",", 1);
            pg_buffer_append (&list, "\"", 1);
            for (const char *c = staff->email; *c; c++) {
                if (*c == '"' || *c == '\\')
                    pg_buffer_append (&list, "\\", 1);
                pg_buffer_append (&list, c, 1);
            }
            pg_buffer_append (&list, "\"", 1);
        }
        snprintf (cursor, sizeof cursor, "%s", reply->next_cursor);
        protobuf_c_message_free_unpacked (&reply->base, NULL);
        if (!*cursor)
            break;
    }
    pg_buffer_append (&list, "}", 2);   /* with the NUL */
    return list.text;
}

/* Puts the notice back for a later attempt, logged, or fails it after ATTEMPTS_MAX. 0 or -1. */
static int
s_retry (pg_t *db, const char *id, const char *error, int attempts, int64_t now_ms)
{
    log_warn ("notice '%s': %s", id, error);
    char due [24];
    const char *params [] = { id, error, NUM (due, messaging_retry_at (attempts, now_ms)) };
    PGresult *result = pg_run (db, "notice_retry", 3, params);
    PQclear (result);
    return result? 0: -1;
}

/* Sends the notice to the address to: marked first, inside a savepoint, so that once the relay
   has taken it only the COMMIT is left (as mail.c does). 0, -1, or -2 when the relay did not
   take it (why in error, size bytes). */
static int
s_send (pg_t *db, const char *id, const char *subject, const char *text, const char *to,
        int64_t now_ms, char *error, size_t size)
{
    Kaiin__Messaging__Settings *settings = settings_load (db);
    if (!settings)
        return -1;
    char now [24], message_id [128];
    const char *at = strchr (settings->from_address, '@');
    snprintf (message_id, sizeof message_id, "notice-%s-%lld@%s", id, (long long) now_ms,
              at? at + 1: "kaiin.invalid");
    const char *params [] = { id, to, NUM (now, now_ms) };
    PGresult *result = NULL;
    int rc = -1;
    if (pg_exec (db, "savepoint before_notice") == 0
    &&  (result = pg_run (db, "notice_sent_to", 3, params))) {
        smtp_mail_t mail = { settings->from_name, settings->from_address, settings->reply_to, to,
                             subject, "", text, message_id, NULL, now_ms, NULL, 0, NULL };
        rc = smtp_send (&mail, error, size) == SMTP_SENT? 0: -2;
        if (rc == -2 && pg_exec (db, "rollback to savepoint before_notice") == -1)
            rc = -1;
    }
    PQclear (result);
    protobuf_c_message_free_unpacked (&settings->base, NULL);
    return rc;
}

int
notice_tick (pg_t *db, int64_t now_ms)
{
    int done;
    PGresult *due = messaging_take_due (db, "notice_due", now_ms, &done);
    if (!due)
        return done;
    const char *id = PQgetvalue (due, 0, 0), *subject = PQgetvalue (due, 0, 1), *text = PQgetvalue (due, 0, 2);
    int attempts = atoi (PQgetvalue (due, 0, 3));
    bool read = strcmp (PQgetvalue (due, 0, 4), "t") == 0;
    const char *to = PQgetvalue (due, 0, 5);
    int rc = 0;
    if (!read) {                        /* first: who the owners are now, asked of member with
                                           the notice's lock let go and no transaction open; each
                                           write then commits on its own (a tick thread that
                                           read them first wins: the same owners) */
        char notice [40];
        snprintf (notice, sizeof notice, "%s", id);
        PQclear (due);
        pg_rollback (db);
        char *owners = s_owners ();
        if (!owners)
            rc = s_retry (db, notice, "the member service did not answer with the owners", attempts, now_ms);
        else {
            const char *set [] = { notice, owners };
            PGresult *result = pg_run (db, "notice_recipients", 2, set);
            rc = result? 0: -1;
            PQclear (result);
            if (strcmp (owners, "{}") == 0)
                log_warn ("notice '%s': no enabled owner has an address: nobody was told", notice);
        }
        free (owners);
        return rc == -1? -1: 1;
    }
    else
    if (*to) {
        char error [512] = "";
        rc = s_send (db, id, subject, text, to, now_ms, error, sizeof error);
        if (rc == -2)
            rc = s_retry (db, id, error, attempts, now_ms);
    }
    else {                              /* every address has it (two owners, one address) */
        const char *close [] = { id };
        PGresult *result = pg_run (db, "notice_close", 1, close);
        rc = result? 0: -1;
        PQclear (result);
    }
    PQclear (due);
    if (rc == -1 || pg_commit (db) == -1)
        goto fail;
    return 1;
fail:
    pg_rollback (db);
    return -1;
}
