/* rate.c - how fast mail may go out: a limit for all recipients together (a relay's cap) and
   one per recipient domain (mobile carriers refuse or hold back a sender that goes faster than
   they allow), each counted per clock minute in send_windows, in the sending transaction */
#include "rate.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOWS_KEPT_MS (60 * MINUTE_MS)    /* counts older than this are deleted */

void
rate_prepare (pg_t *db)
{
    pg_prepare (db, "rate_count",
            "insert into send_windows (scope, minute_ms, sent) values ($1, $2, 1)"
            " on conflict (scope, minute_ms) do update set sent = send_windows.sent + 1"
            " returning sent");
    /* The mail in hand (let go of: mail.c's claim), and the others of the scope that no
       tick thread holds. */
    pg_prepare (db, "rate_put_off",
            "update mails m set due_at_ms = $2, last_error = $3, claim = null where m.id = $4 or m.id in"
            " (select x.id from mails x join members p on p.id = x.member_id"
            " where x.status = 'queued' and x.due_at_ms < $2 and x.claim is null"
            " and ($1 = '*' or lower (split_part (p.email, '@', 2)) = $1)"
            " for update of x skip locked)");
    /* The claim takes no mail until then (migration 016). */
    pg_prepare (db, "rate_relay_hold", "update relay_hold set until_ms = greatest (until_ms, $1)");
    pg_prepare (db, "rate_forget", "delete from send_windows where minute_ms < $1");
    pg_prepare (db, "rate_domains", "select domain, per_minute from domain_rates order by domain");
    pg_prepare (db, "rate_domains_clear", "delete from domain_rates");
    pg_prepare (db, "rate_domain_add", "insert into domain_rates (domain, per_minute) values ($1, $2)");
}

/* Counts one mail in scope's window; 1 when it is within limit, 0 when not, -1. */
static int
s_count (pg_t *db, const char *scope, int limit, int64_t minute_ms)
{
    char minute [24];
    const char *params [] = { scope, NUM (minute, minute_ms) };
    PGresult *result = pg_run (db, "rate_count", 2, params);
    int rc = !result? -1: atoi (PQgetvalue (result, 0, 0)) <= limit;
    PQclear (result);
    return rc;
}

/* Puts off mail_id and the queued mails of scope ("*": all) that no other thread holds to
   next_ms, saying why; their attempts are not counted. 0 or -1. */
static int
s_hold (pg_t *db, const char *mail_id, const char *scope, int64_t next_ms, const char *why)
{
    char next [24];
    const char *params [] = { scope, NUM (next, next_ms), why, mail_id };
    PGresult *result = pg_run (db, "rate_put_off", 4, params);
    PQclear (result);
    return result? 0: -1;
}

int
rate_relay_down (pg_t *db, const char *mail_id, const char *error, int64_t now_ms)
{
    char why [600];
    snprintf (why, sizeof why, "the relay takes no mail now, every mail waits a minute: %s", error);
    char until [24];
    const char *params [] = { NUM (until, now_ms + MINUTE_MS) };
    PGresult *held = pg_run (db, "rate_relay_hold", 1, params);
    PQclear (held);
    return held? s_hold (db, mail_id, "*", now_ms + MINUTE_MS, why): -1;
}

/* Puts off the queued mails of scope to next_ms; forgets windows long past. 0 or -1. */
static int
s_put_off (pg_t *db, const char *mail_id, const char *scope, int limit, int64_t next_ms)
{
    char why [160], old [24];
    if (strcmp (scope, "*") == 0)
        snprintf (why, sizeof why, "waiting for the next minute: at most %d mails a minute", limit);
    else
        snprintf (why, sizeof why, "waiting for the next minute: at most %d mails a minute to %s",
                  limit, scope);
    const char *forget [] = { NUM (old, next_ms - WINDOWS_KEPT_MS) };
    if (s_hold (db, mail_id, scope, next_ms, why) == -1)
        return -1;
    PGresult *forgot = pg_run (db, "rate_forget", 1, forget);
    PQclear (forgot);
    return forgot? 0: -1;
}

int
rate_admit (pg_t *db, const char *mail_id, const char *domain, int per_minute,
            int global_per_minute, int64_t now_ms)
{
    int64_t minute_ms = now_ms - now_ms % MINUTE_MS;
    struct { const char *scope; int limit; } limits [] = {
        { domain, per_minute }, { "*", global_per_minute }
    };
    for (size_t i = 0; i < sizeof limits / sizeof limits [0]; i++) {
        if (limits [i].limit <= 0)
            continue;
        int within = s_count (db, limits [i].scope, limits [i].limit, minute_ms);
        if (within != 1)
            return within == 0
                && s_put_off (db, mail_id, limits [i].scope, limits [i].limit, minute_ms + MINUTE_MS) == 0? 0: -1;
    }
    return 1;
}

int
rate_load_domains (pg_t *db, Kaiin__Messaging__Settings *settings)
{
    PGresult *result = pg_run (db, "rate_domains", 0, NULL);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    settings->domain_rates = rows? calloc ((size_t) rows, sizeof *settings->domain_rates): NULL;
    settings->n_domain_rates = (size_t) rows;
    for (int i = 0; i < rows; i++) {
        Kaiin__Messaging__DomainRate *rate = malloc (sizeof *rate);
        kaiin__messaging__domain_rate__init (rate);
        rate->domain = strdup (PQgetvalue (result, i, 0));
        rate->per_minute = atoi (PQgetvalue (result, i, 1));
        settings->domain_rates [i] = rate;
    }
    PQclear (result);
    return 0;
}

/* A domain as mail servers are named: labels of a-z, 0-9 and -, joined by dots, at least two. */
static bool
s_domain (const char *text)
{
    size_t length = strlen (text);
    if (length < 3 || length > 253 || !strchr (text, '.') || strspn (text, "abcdefghijklmnopqrstuvwxyz0123456789.-") != length)
        return false;
    for (const char *label = text; ; ) {
        size_t size = strcspn (label, ".");
        if (size == 0 || size > 63 || label [0] == '-' || label [size - 1] == '-')
            return false;
        if (!label [size])
            return true;
        label += size + 1;
    }
}

void
rate_check_domains (svc_reply_t *reply, const Kaiin__Messaging__Settings *change)
{
    if (change->n_domain_rates > DOMAIN_RATES_MAX)
        svc_field_error (reply, "domain_rates", "must have at most %d domains", DOMAIN_RATES_MAX);
    for (size_t i = 0; i < change->n_domain_rates && i < DOMAIN_RATES_MAX; i++) {
        const char *domain = change->domain_rates [i]->domain;
        char field [64];
        snprintf (field, sizeof field, "domain_rates[%zu].domain", i);
        if (!s_domain (domain))
            svc_field_error (reply, field, "must be a mail domain in lower case, such as docomo.ne.jp");
        for (size_t j = 0; j < i; j++)
            if (strcmp (change->domain_rates [j]->domain, domain) == 0) {
                svc_field_error (reply, field, "is given twice");
                break;
            }
    }
}

int
rate_replace_domains (svc_request_t *request, svc_reply_t *reply,
                      const Kaiin__Messaging__Settings *change)
{
    PGresult *cleared = messaging_run (request, reply, "rate_domains_clear", 0, NULL);
    PQclear (cleared);
    if (!cleared)
        return -1;
    for (size_t i = 0; i < change->n_domain_rates; i++) {
        char limit [24];
        const char *params [] = { change->domain_rates [i]->domain,
                                  NUM (limit, change->domain_rates [i]->per_minute) };
        PGresult *added = messaging_run (request, reply, "rate_domain_add", 2, params);
        PQclear (added);
        if (!added)
            return -1;
    }
    return 0;
}
