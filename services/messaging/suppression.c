/* suppression.c - the suppression list: addresses no mail goes to, put there by the relay's
   hard bounces or by staff, and the members who unsubscribed from marketing mail, listed,
   added and lifted through the API */
#include "suppression.h"
#include "outbox.h"
#include <string.h>

#define SUPPRESSION_COLUMNS "email, reason, detail, coalesce (mail_id::text, '') as mail_id," \
    " added_by, at_ms, seq"

/* An unsubscribe's entry, of the members row named p (SUPPRESSION_UNSUBSCRIBED): the one-click
   unsubscribe when it is the member's last word (no consent recorded after it), else the
   consent record that says no. */
#define ONE_CLICK \
    "(p.unsubscribed_mail_id is not null and p.unsubscribed_at_ms >= p.consented_at_ms)"
#define UNSUBSCRIBE_COLUMNS "lower (p.email) as email, 'unsubscribe' as reason," \
    " case when " ONE_CLICK " then '' else p.consent_source end as detail," \
    " case when " ONE_CLICK " then p.unsubscribed_mail_id::text else '' end as mail_id," \
    " '' as added_by," \
    " case when " ONE_CLICK " then p.unsubscribed_at_ms else p.consented_at_ms end as at_ms," \
    " p.unsubscribed_seq as seq," \
    " case when " ONE_CLICK " then 'one_click' else p.consent_method end as channel," \
    " p.id::text as member_id"

void
suppression_prepare (pg_t *db)
{
    pg_prepare (db, "suppression_bounce",
            "insert into suppressions (email, reason, detail, mail_id, at_ms)"
            " values (lower ($1), 'bounce', $2, $3, $4) on conflict (email) do nothing");
    /* Newest first, a page at a time (seq, migration 018), the unsubscribes among them (their
       seq drawn from the same numbers, migration 019). */
    pg_prepare (db, "suppression_list",
            "select " SUPPRESSION_COLUMNS ", '' as channel, '' as member_id from suppressions"
            " where ($1 = '' or email = lower ($1)) and $2 in ('', reason) and seq < $3"
            " union all select " UNSUBSCRIBE_COLUMNS " from members p"
            " where " SUPPRESSION_UNSUBSCRIBED ("p") " and ($1 = '' or lower (p.email) = lower ($1))"
            " and $2 in ('', 'unsubscribe') and p.unsubscribed_seq < $3"
            " order by seq desc limit $4");
    /* The entry added now (added true), else the one listed before: the insert's row is not
       seen by the statement's own select, the row of before is. */
    pg_prepare (db, "suppression_add",
            "with added as (insert into suppressions (email, reason, detail, added_by, at_ms)"
            " values (lower ($1), 'manual', $2, $3, $4) on conflict (email) do nothing"
            " returning " SUPPRESSION_COLUMNS ")"
            " select *, true as added from added union all"
            " select " SUPPRESSION_COLUMNS ", false from suppressions where email = lower ($1)");
    pg_prepare (db, "suppression_lift",
            "delete from suppressions where email = lower ($1) returning " SUPPRESSION_COLUMNS);
    pg_prepare (db, "suppression_unsubscribed",
            "select 1 from members p where " SUPPRESSION_UNSUBSCRIBED ("p")
            " and lower (p.email) = lower ($1)");
}

int
suppression_bounce (pg_t *db, const char *email, const char *answer, const char *mail_id,
                    int64_t now_ms)
{
    char now [24];
    const char *params [] = { email, answer, mail_id, NUM (now, now_ms) };
    if (!*email)
        return 0;
    PGresult *result = pg_run (db, "suppression_bounce", 4, params);     /* in the mail tick */
    PQclear (result);
    return result? 0: -1;
}

int
suppression_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__SuppressionListRequest *list = (Kaiin__Messaging__SuppressionListRequest *)
        svc_unpack (request, &kaiin__messaging__suppression_list_request__descriptor, reply);
    if (!list)
        return -1;
    if (*list->email && !messaging_email (list->email))
        svc_field_error (reply, "email", "must be an email address");
    Kaiin__Messaging__ListRequest page = KAIIN__MESSAGING__LIST_REQUEST__INIT;
    page.limit = list->limit;
    page.cursor = list->cursor;
    const char *params [4] = { list->email, list->reason };
    int rc = messaging_reply_list (request, reply, "suppression_list", 4, params, &page,
                                   &kaiin__messaging__suppression_list__descriptor);
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

/* Adds the address, or finds it listed, in the open transaction: the row, or NULL after a
   database error (on reply). An add that raced another's of the same address finds nothing
   the first time (its select's snapshot is older than the other's row): once more finds it. */
static PGresult *
s_add (svc_request_t *request, svc_reply_t *reply, const char *const *params)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        PGresult *result = messaging_run (request, reply, "suppression_add", 4, params);
        if (!result || PQntuples (result) == 1)
            return result;
        PQclear (result);
    }
    svc_fail (reply, KAIIN__STATUS__ABORTED, "the address was changed meanwhile");
    return NULL;
}

int
suppression_api_add (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__SuppressionAddRequest *add = (Kaiin__Messaging__SuppressionAddRequest *)
        svc_unpack (request, &kaiin__messaging__suppression_add_request__descriptor, reply);
    if (!add)
        return -1;
    if (!messaging_email (add->email))
        svc_field_error (reply, "email", "must be an email address");
    int64_t now_ms = messaging_now (request);
    char now [24];
    const char *params [] = { add->email, add->note, request->envelope->caller_id, NUM (now, now_ms) };
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK && pg_begin (request->db) == -1)
        svc_db_fail (reply, request->db);
    else
    if (reply->status == KAIIN__STATUS__OK) {
        PGresult *result = s_add (request, reply, params);
        Kaiin__Messaging__Suppression *entry = result? (Kaiin__Messaging__Suppression *)
            pg_row_message (result, 0, &kaiin__messaging__suppression__descriptor): NULL;
        bool added = result && strcmp (PQgetvalue (result, 0, PQfnumber (result, "added")), "t") == 0;
        if (entry && (!added || outbox_append (request->db, "suppression.added", entry->email,
                                               &entry->base, now_ms) == 0)
        &&  pg_commit (request->db) == 0)
            rc = svc_reply_with (reply, &entry->base);
        else
        if (entry)
            svc_db_fail (reply, request->db);
        if (rc == -1)
            pg_rollback (request->db);
        if (entry)
            protobuf_c_message_free_unpacked (&entry->base, NULL);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&add->base, NULL);
    return rc;
}

/* Why an address with no entry to lift is not lifted, on reply: it is listed as an
   unsubscribe, which staff cannot undo (409), or not listed at all (404). */
static void
s_not_lifted (svc_request_t *request, svc_reply_t *reply, const char *const *params)
{
    PGresult *result = messaging_run (request, reply, "suppression_unsubscribed", 1, params);
    if (result && PQntuples (result) > 0)
        svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "the member unsubscribed: only their "
                  "own opt-in lifts it, as 特定電子メール法 requires their consent");
    else
    if (result)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "the address is not on the suppression list");
    PQclear (result);
}

int
suppression_api_lift (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__SuppressionLiftRequest *lift = (Kaiin__Messaging__SuppressionLiftRequest *)
        svc_unpack (request, &kaiin__messaging__suppression_lift_request__descriptor, reply);
    if (!lift)
        return -1;
    int64_t now_ms = messaging_now (request);
    const char *params [] = { lift->email };
    int rc = -1;
    if (pg_begin (request->db) == -1) {
        protobuf_c_message_free_unpacked (&lift->base, NULL);
        return svc_db_fail (reply, request->db);
    }
    PGresult *result = messaging_run (request, reply, "suppression_lift", 1, params);
    if (result && PQntuples (result) == 0)
        s_not_lifted (request, reply, params);
    else
    if (result) {
        Kaiin__Messaging__SuppressionLifted lifted = KAIIN__MESSAGING__SUPPRESSION_LIFTED__INIT;
        lifted.suppression = (Kaiin__Messaging__Suppression *)
            pg_row_message (result, 0, &kaiin__messaging__suppression__descriptor);
        lifted.lifted_by = request->envelope->caller_id;
        lifted.at_ms = now_ms;
        if (outbox_append (request->db, "suppression.lifted", lifted.suppression->email,
                           &lifted.base, now_ms) == 0
        &&  pg_commit (request->db) == 0)
            rc = svc_reply_with (reply, &lifted.suppression->base);
        else
            svc_db_fail (reply, request->db);
        protobuf_c_message_free_unpacked (&lifted.suppression->base, NULL);
    }
    if (rc == -1)
        pg_rollback (request->db);
    PQclear (result);
    protobuf_c_message_free_unpacked (&lift->base, NULL);
    return rc;
}
