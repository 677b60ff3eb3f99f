/* payment_method.c - a member's cards (provider tokens), konbini and bank transfer */
#include "payment_method.h"
#include "member_ref.h"
#include "outbox.h"
#include "provider.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METHOD_COLUMNS "id, member_id, type, provider, token, brand, last4, exp_month, exp_year," \
    " status, is_default, " MS ("created_at") " as created_at_ms, seq, customer_ref"
#define METHODS_MAX 20

static const char *const s_types [] = { "card", "konbini", "bank_transfer", NULL };

void
payment_method_prepare (pg_t *db)
{
    pg_prepare (db, "method_lock_member",
            "select pg_advisory_xact_lock (hashtext ('payment_methods:' || $1))");
    pg_prepare (db, "method_count",
            "select count (*), count (*) filter (where is_default) from payment_methods"
            " where member_id = $1 and status = 'active'");
    pg_prepare (db, "method_undefault",
            "update payment_methods set is_default = false where member_id = $1 and is_default");
    pg_prepare (db, "method_insert",
            "insert into payment_methods (member_id, type, provider, token, brand, last4, exp_month,"
            " exp_year, is_default, created_at, customer_ref) values ($1, $2, $10, $3, $4, $5, $6, $7, $8, "
            AT ("$9") ", $11) returning " METHOD_COLUMNS);
    /* The member as the provider's customer (migration 010): read before the provider is
       asked, kept with the method that made it. */
    pg_prepare (db, "method_customer",
            "select ref from provider_customers where member_id = $1 and provider = $2");
    pg_prepare (db, "method_customer_keep",
            "insert into provider_customers (member_id, provider, ref) values ($1, $2, $3)"
            " on conflict do nothing");
    /* A new default: the member's subscriptions not ended are charged with it from now
       on (renewals and dunning retries), those that named a method of their own too. */
    pg_prepare (db, "method_to_subscriptions",
            "update subscriptions set payment_method_id = $2, updated_at = " AT ("$3") ", version = version + 1"
            " where member_id = $1 and status <> 'canceled' and payment_method_id is distinct from $2");
    pg_prepare (db, "method_list",
            "select " METHOD_COLUMNS " from payment_methods where member_id = $1"
            " and status = case when $2 = '' then 'active' else $2 end order by seq");
    pg_prepare (db, "method_get",
            "select " METHOD_COLUMNS " from payment_methods where member_id = $1 and status = 'active'"
            " and (case when $2 = '' then is_default else id = $2::text::uuid end)");
    pg_prepare (db, "method_by_id", "select " METHOD_COLUMNS " from payment_methods where id = $1");
    pg_prepare (db, "method_detach",
            "update payment_methods set status = 'detached', is_default = false"
            " where id = $1 and status = 'active' returning " METHOD_COLUMNS);
    pg_prepare (db, "method_promote",
            "update payment_methods set is_default = true where id = (select id from payment_methods"
            " where member_id = $1 and status = 'active' order by seq desc limit 1)"
            " and not exists (select 1 from payment_methods where member_id = $1 and status = 'active'"
            " and is_default)");
    pg_prepare (db, "method_expiring",
            "update payment_methods set expiring_notified = true where id in (select id from payment_methods"
            " where type = 'card' and status = 'active' and not expiring_notified"
            " and exp_year * 12 + exp_month <= $1 limit 200 for update skip locked)"
            " returning " METHOD_COLUMNS);
}

static int
s_reply_method (svc_reply_t *reply, PGresult *result)
{
    ProtobufCMessage *method = pg_row_message (result, 0, &kaiin__billing__payment_method__descriptor);
    svc_reply_with (reply, method);
    protobuf_c_message_free_unpacked (method, NULL);
    return 0;
}

/* The member's subscriptions not ended are charged with method_id from now on. 0 or -1. */
static int
s_charge_subscriptions (pg_t *db, const char *member_id, const char *method_id, const char *now)
{
    const char *params [] = { member_id, method_id, now };
    PGresult *result = pg_run (db, "method_to_subscriptions", 3, params);
    PQclear (result);
    return result? 0: -1;
}

Kaiin__Billing__PaymentMethod *
payment_method_find (svc_request_t *request, svc_reply_t *reply, const char *member_id,
                     const char *id, const char *field)
{
    if (*id && !billing_uuid (id)) {
        svc_field_error (reply, field, "must be a payment method id");
        return NULL;
    }
    const char *params [] = { member_id, id };
    Kaiin__Billing__PaymentMethod *method = (Kaiin__Billing__PaymentMethod *) billing_get (request,
        reply, "method_get", 2, params, &kaiin__billing__payment_method__descriptor, "payment method not found");
    if (!method && reply->status == KAIIN__STATUS__NOT_FOUND) {
        reply->status = KAIIN__STATUS__OK;
        svc_field_error (reply, field, *id? "must be an active payment method of the member"
                                          : "is needed: the member has no default payment method");
    }
    return method;
}

/* The member as provider's customer, with a card token ("" for none) saved to it, into
   customer ("" when the provider needs none; *known whether Kaiin kept it already): asked
   before the method's transaction, so that none is open while the provider answers. 0, or -1
   with reply set. */
static int
s_customer (svc_request_t *request, svc_reply_t *reply, const provider_t *provider,
            const char *member_id, const char *token, char customer [64], bool *known)
{
    *customer = 0;
    *known = false;
    if (!provider->customer)
        return 0;
    const char *params [] = { member_id, provider->name };
    PGresult *result = billing_run (request, reply, "method_customer", 2, params);
    if (!result)
        return -1;
    char kept [64] = "";
    if (PQntuples (result))
        snprintf (kept, sizeof kept, "%s", PQgetvalue (result, 0, 0));
    PQclear (result);
    *known = *kept != 0;
    if (provider->customer (member_id, kept, token, customer) == -1)
        return svc_fail (reply, KAIIN__STATUS__UNAVAILABLE,
                         "the payment provider could not be reached; nothing was saved");
    return 0;
}

int
payment_method_api_attach (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__PaymentMethodAttachRequest *attach = (Kaiin__Billing__PaymentMethodAttachRequest *)
        svc_unpack (request, &kaiin__billing__payment_method_attach_request__descriptor, reply);
    if (!attach)
        return -1;
    billing_check_enum (reply, "type", attach->type, s_types, true);
    provider_card_t card = { "", "", 0, 0 };
    const provider_t *provider = provider_chosen ();
    int64_t now = billing_now (request);
    if (strcmp (attach->type, "card") == 0) {
        if (!*attach->token)
            svc_field_error (reply, "token", "is required for a card");
        else
        if (provider->card (attach->token, now, &card) == -1)
            svc_field_error (reply, "token", "is not a card token the provider knows");
    }
    else
    if (*attach->token)
        svc_field_error (reply, "token", "is only for cards");
    char rank [33], status [16], customer [64];
    bool known;
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK
    &&  member_ref_lookup (reply, attach->member_id, NULL, true, rank, status) == 0
    &&  s_customer (request, reply, provider, attach->member_id, attach->token, customer, &known) == 0) {
        pg_t *db = request->db;
        const char *member [] = { attach->member_id };
        const char *keep [] = { attach->member_id, provider->name, customer };
        PGresult *result = NULL;
        if (pg_begin (db) == 0 && (known || !*customer || pg_do (db, "method_customer_keep", 3, keep) == 0)
        &&  (result = pg_run (db, "method_lock_member", 1, member))
        &&  (PQclear (result), result = pg_run (db, "method_count", 1, member))) {
            long count = atol (PQgetvalue (result, 0, 0));
            bool make_default = attach->set_default || atol (PQgetvalue (result, 0, 1)) == 0;
            PQclear (result);
            result = NULL;
            if (count >= METHODS_MAX)
                svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                          "a member may keep at most %d payment methods", METHODS_MAX);
            else
            if ((!make_default || (result = pg_run (db, "method_undefault", 1, member)))) {
                PQclear (result);
                char month [24], year [24], now_text [24];
                const char *params [] = { attach->member_id, attach->type, attach->token, card.brand,
                    card.last4, NUM (month, card.exp_month), NUM (year, card.exp_year),
                    make_default? "t": "f", NUM (now_text, now), provider->name, customer };
                result = pg_run (db, "method_insert", 11, params);
                if (result && (!make_default || s_charge_subscriptions (db, attach->member_id,
                                                                        PQgetvalue (result, 0, 0), now_text) == 0)
                &&  pg_commit (db) == 0)
                    rc = s_reply_method (reply, result);
            }
        }
        if (rc == -1 && reply->status == KAIIN__STATUS__OK)
            svc_db_fail (reply, db);
        if (rc == -1)
            pg_rollback (db);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&attach->base, NULL);
    return rc;
}

int
payment_method_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__ListRequest *list = (Kaiin__Billing__ListRequest *)
        svc_unpack (request, &kaiin__billing__list_request__descriptor, reply);
    if (!list)
        return -1;
    int rc = -1;
    static const char *const statuses [] = { "active", "detached", NULL };
    if (!billing_uuid (list->member_id))
        svc_field_error (reply, "member_id", "must be a member id");
    billing_check_enum (reply, "status", list->status, statuses, false);
    if (reply->status == KAIIN__STATUS__OK) {
        const char *params [] = { list->member_id, list->status };
        PGresult *result = billing_run (request, reply, "method_list", 2, params);
        if (result)
            rc = billing_reply_rows (reply, result, 0, &kaiin__billing__payment_method_list__descriptor);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

/* One method by id, a detached one too: a subscription or a payment may still name it. */
int
payment_method_api_get (svc_request_t *request, svc_reply_t *reply)
{
    ProtobufCMessage *method = billing_get_by_id (request, reply, "method_by_id",
                                                  &kaiin__billing__payment_method__descriptor,
                                                  "payment method not found");
    if (!method)
        return -1;
    svc_reply_with (reply, method);
    protobuf_c_message_free_unpacked (method, NULL);
    return 0;
}

int
payment_method_api_detach (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__IdRequest *detach = (Kaiin__Billing__IdRequest *)
        svc_unpack (request, &kaiin__billing__id_request__descriptor, reply);
    if (!detach)
        return -1;
    int rc = -1;
    if (!billing_uuid (detach->id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "payment method not found");
    else {
        pg_t *db = request->db;
        const char *params [] = { detach->id };
        PGresult *result = NULL;
        if (pg_begin (db) == 0 && (result = pg_run (db, "method_detach", 1, params))) {
            if (PQntuples (result) == 0)
                svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "payment method not found");
            else {
                const char *member [] = { PQgetvalue (result, 0, 1) };
                PGresult *promoted = pg_run (db, "method_promote", 1, member);
                if (promoted && pg_commit (db) == 0)
                    rc = s_reply_method (reply, result);
                PQclear (promoted);
            }
        }
        if (rc == -1 && reply->status == KAIIN__STATUS__OK)
            svc_db_fail (reply, db);
        if (rc == -1)
            pg_rollback (db);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&detach->base, NULL);
    return rc;
}

int
payment_method_tick (pg_t *db, int64_t now_ms)
{
    struct tm tm;
    billing_japan_time (now_ms, &tm);
    int next_month = (tm.tm_year + 1900) * 12 + tm.tm_mon + 2;     /* months as year*12+month */
    char month [24];
    const char *params [] = { NUM (month, next_month) };
    if (pg_begin (db) == -1)
        return -1;
    PGresult *result = pg_run (db, "method_expiring", 1, params);
    int done = result? PQntuples (result): -1;
    for (int row = 0; row < done; row++) {
        ProtobufCMessage *method = pg_row_message (result, row, &kaiin__billing__payment_method__descriptor);
        if (outbox_append (db, "payment_method.expiring", PQgetvalue (result, row, 0), method, now_ms) == -1)
            done = -1;
        protobuf_c_message_free_unpacked (method, NULL);
    }
    PQclear (result);
    if (done < 0 || pg_commit (db) == -1) {
        pg_rollback (db);
        return -1;
    }
    return done;
}
