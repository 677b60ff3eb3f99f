/* coupon.c - coupons and promotions (coupons that apply themselves by rule) */
#include "coupon.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUPON_COLUMNS "id, code, name, percent_off, amount_off, duration, duration_in_months," \
    " max_redemptions, times_redeemed, " MS ("redeem_by") " as redeem_by_ms, plans," \
    " first_purchase_only, applies_to, auto_apply, ranks, active, " \
    MS ("created_at") " as created_at_ms, seq"
/* A uuid: what may be cast to one without an error. */
#define IS_UUID(param) "(" param " ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')"
/* The member has a paid invoice: no longer a first purchase. */
#define HAS_PAID(param) "exists (select 1 from invoices where member_id = " param "::text::uuid" \
    " and status = 'paid')"
#define NIL_UUID "00000000-0000-0000-0000-000000000000"
#define CODE_MAX 64
#define LIST_ITEMS_MAX 100              /* plans and ranks a coupon may name */
#define MONTHS_MAX 36

static const char *const s_durations [] = { "once", "repeating", "forever", NULL };
static const char *const s_applies_to [] = { "subscriptions", "purchases", "all", NULL };
static const char *const s_statuses [] = { "active", "inactive", NULL };

void
coupon_prepare (pg_t *db)
{
    pg_prepare (db, "coupon_insert",
            "insert into coupons (code, name, percent_off, amount_off, duration, duration_in_months,"
            " max_redemptions, redeem_by, plans, first_purchase_only, applies_to, auto_apply, ranks,"
            " created_at) values ($1, $2, $3, $4, $5, $6, $7, " AT ("$8") ", $9::text [], $10, $11,"
            " $12, $13::text [], " AT ("$14") ") on conflict ((lower (code))) do nothing"
            " returning " COUPON_COLUMNS);
    pg_prepare (db, "coupon_unknown_plans",
            "select u.i - 1 from unnest ($1::text []) with ordinality as u (code, i)"
            " where not exists (select 1 from plans p where p.code = u.code) order by u.i");
    pg_prepare (db, "coupon_get",
            "select " COUPON_COLUMNS " from coupons where lower (code) = lower ($1)"
            " or (" IS_UUID ("$1") " and id = $1::text::uuid)");
    pg_prepare (db, "coupon_by_code",
            "select " COUPON_COLUMNS " from coupons where lower (code) = lower ($1)");
    pg_prepare (db, "coupon_list",
            "select " COUPON_COLUMNS " from coupons where ($1 = '' or active = ($1 = 'active'))"
            " order by seq desc");
    pg_prepare (db, "coupon_deactivate",
            "update coupons set active = false where lower (code) = lower ($1)"
            " or (" IS_UUID ("$1") " and id = $1::text::uuid) returning " COUPON_COLUMNS);
    pg_prepare (db, "coupon_member_paid", "select " HAS_PAID ("$1"));
    /* The best promotion whose rules match: the highest percent_off, then amount_off. A
       coupon limited to plans never matches a purchase (plan ""). */
    pg_prepare (db, "coupon_promotion",
            "select " COUPON_COLUMNS " from coupons where active and auto_apply"
            " and applies_to in ($1, 'all')"
            " and (redeem_by is null or redeem_by >= " AT ("$2") ")"
            " and (max_redemptions = 0 or times_redeemed < max_redemptions)"
            " and (cardinality (plans) = 0 or $3 = any (plans))"
            " and (cardinality (ranks) = 0 or $4 = any (ranks))"
            " and (not first_purchase_only or not " HAS_PAID ("$5") ")"
            " order by percent_off desc, amount_off desc, seq limit 1");
    pg_prepare (db, "coupon_redeem",
            "update coupons set times_redeemed = times_redeemed + 1 where id = $1"
            " and (max_redemptions = 0 or times_redeemed < max_redemptions) returning id");
    pg_prepare (db, "coupon_redemption_insert",
            "insert into coupon_redemptions (coupon_id, member_id, subscription_id, invoice_id,"
            " created_at) values ($1, $2, nullif ($3::text, '')::uuid, nullif ($4::text, '')::uuid, "
            AT ("$5") ")");
}

/* A PostgreSQL array literal of items, each quoted; the caller frees it. */
static char *
s_text_array (char *const *items, size_t count)
{
    size_t size = 3;
    for (size_t i = 0; i < count; i++)
        size += 2 * strlen (items [i]) + 3;
    char *array = malloc (size);
    assert (array);
    char *out = array;
    *out++ = '{';
    for (size_t i = 0; i < count; i++) {
        if (i)
            *out++ = ',';
        *out++ = '"';
        for (const char *in = items [i]; *in; in++) {
            if (*in == '"' || *in == '\\')
                *out++ = '\\';
            *out++ = *in;
        }
        *out++ = '"';
    }
    *out++ = '}';
    *out = 0;
    return array;
}

static bool
s_contains (char *const *items, size_t count, const char *item)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp (items [i], item) == 0)
            return true;
    return false;
}

static bool
s_chars (const char *text, size_t max, const char *allowed)
{
    size_t length = strlen (text);
    return length >= 1 && length <= max && strspn (text, allowed) == length;
}

#define CODE_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
#define PLAN_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_-"
#define RANK_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_"

/* Field errors for what a new coupon says, all but the plans' existence. */
static void
s_check_coupon (svc_reply_t *reply, const Kaiin__Billing__Coupon *coupon, int64_t now_ms)
{
    if (!s_chars (coupon->code, CODE_MAX, CODE_CHARS))
        svc_field_error (reply, "code", "must be 1 to %d of A-Z, a-z, 0-9, _ and -", CODE_MAX);
    if (*coupon->name)
        billing_check_text (reply, "name", coupon->name, 100);
    if ((coupon->percent_off != 0) == (coupon->amount_off != 0))
        svc_field_error (reply, coupon->percent_off? "amount_off": "percent_off",
                         "exactly one of percent_off and amount_off must be given");
    else
    if (coupon->percent_off && (coupon->percent_off < 1 || coupon->percent_off > 100))
        svc_field_error (reply, "percent_off", "must be from 1 to 100");
    else
    if (coupon->amount_off && (coupon->amount_off < 1 || coupon->amount_off > AMOUNT_MAX))
        svc_field_error (reply, "amount_off", "must be from 1 to %lld yen", AMOUNT_MAX);
    billing_check_enum (reply, "duration", coupon->duration, s_durations, true);
    if (strcmp (coupon->duration, "repeating") == 0) {
        if (coupon->duration_in_months < 1 || coupon->duration_in_months > MONTHS_MAX)
            svc_field_error (reply, "duration_in_months", "must be from 1 to %d", MONTHS_MAX);
    }
    else
    if (coupon->duration_in_months)
        svc_field_error (reply, "duration_in_months", "is only for a repeating duration");
    if (coupon->max_redemptions < 0)
        svc_field_error (reply, "max_redemptions", "must be 0 (unlimited) or more");
    if (coupon->redeem_by_ms < 0 || (coupon->redeem_by_ms && coupon->redeem_by_ms <= now_ms))
        svc_field_error (reply, "redeem_by", "must be in the future");
    billing_check_enum (reply, "applies_to", coupon->applies_to, s_applies_to, false);
    if (coupon->n_plans > LIST_ITEMS_MAX)
        svc_field_error (reply, "plans", "must name at most %d plans", LIST_ITEMS_MAX);
    for (size_t i = 0; i < coupon->n_plans && i < LIST_ITEMS_MAX; i++)
        if (!s_chars (coupon->plans [i], 64, PLAN_CHARS)) {
            char field [32];
            snprintf (field, sizeof field, "plans[%zu]", i);
            svc_field_error (reply, field, "must be a plan code");
        }
    if (coupon->n_ranks > LIST_ITEMS_MAX)
        svc_field_error (reply, "ranks", "must name at most %d ranks", LIST_ITEMS_MAX);
    for (size_t i = 0; i < coupon->n_ranks && i < LIST_ITEMS_MAX; i++)
        if (!s_chars (coupon->ranks [i], 32, RANK_CHARS)) {
            char field [32];
            snprintf (field, sizeof field, "ranks[%zu]", i);
            svc_field_error (reply, field, "must be a rank code: up to 32 of a-z, 0-9, _");
        }
}

/* Field errors for the plans that do not exist. 0, or -1 on a database error (set). */
static int
s_check_plans (svc_request_t *request, svc_reply_t *reply, const char *plans)
{
    const char *params [] = { plans };
    PGresult *result = billing_run (request, reply, "coupon_unknown_plans", 1, params);
    if (!result)
        return -1;
    for (int row = 0; row < PQntuples (result); row++) {
        char field [32];
        snprintf (field, sizeof field, "plans[%s]", PQgetvalue (result, row, 0));
        svc_field_error (reply, field, "must be the code of a plan");
    }
    PQclear (result);
    return 0;
}

static int
s_reply_coupon (svc_reply_t *reply, PGresult *result)
{
    ProtobufCMessage *coupon = pg_row_message (result, 0, &kaiin__billing__coupon__descriptor);
    svc_reply_with (reply, coupon);
    protobuf_c_message_free_unpacked (coupon, NULL);
    return 0;
}

int
coupon_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__Coupon *coupon = (Kaiin__Billing__Coupon *)
        svc_unpack (request, &kaiin__billing__coupon__descriptor, reply);
    if (!coupon)
        return -1;
    int64_t now = billing_now (request);
    s_check_coupon (reply, coupon, now);
    int rc = -1;
    char *plans = NULL, *ranks = NULL;
    if (reply->status == KAIIN__STATUS__OK) {
        plans = s_text_array (coupon->plans, coupon->n_plans);
        ranks = s_text_array (coupon->ranks, coupon->n_ranks);
        if (coupon->n_plans)
            s_check_plans (request, reply, plans);
    }
    if (reply->status == KAIIN__STATUS__OK) {
        char percent [24], amount [24], months [24], max [24], redeem_by [24], now_text [24];
        const char *params [] = { coupon->code, coupon->name, NUM (percent, coupon->percent_off),
            NUM (amount, coupon->amount_off), coupon->duration, NUM (months, coupon->duration_in_months),
            NUM (max, coupon->max_redemptions), NUM (redeem_by, coupon->redeem_by_ms), plans,
            coupon->first_purchase_only? "t": "f", *coupon->applies_to? coupon->applies_to: "all",
            coupon->auto_apply? "t": "f", ranks, NUM (now_text, now) };
        PGresult *result = billing_run (request, reply, "coupon_insert", 14, params);
        if (result && PQntuples (result) == 0) {
            svc_fail (reply, KAIIN__STATUS__ALREADY_EXISTS, "a coupon with this code exists");
            svc_field_error (reply, "code", "is taken by another coupon (codes ignore case)");
        }
        else
        if (result)
            rc = s_reply_coupon (reply, result);
        PQclear (result);
    }
    free (plans);
    free (ranks);
    protobuf_c_message_free_unpacked (&coupon->base, NULL);
    return rc;
}

int
coupon_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__IdRequest *get = (Kaiin__Billing__IdRequest *)
        svc_unpack (request, &kaiin__billing__id_request__descriptor, reply);
    if (!get)
        return -1;
    const char *params [] = { get->id };
    ProtobufCMessage *coupon = billing_get (request, reply, "coupon_get", 1, params,
                                            &kaiin__billing__coupon__descriptor, "coupon not found");
    protobuf_c_message_free_unpacked (&get->base, NULL);
    if (!coupon)
        return -1;
    svc_reply_with (reply, coupon);
    protobuf_c_message_free_unpacked (coupon, NULL);
    return 0;
}

int
coupon_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__ListRequest *list = (Kaiin__Billing__ListRequest *)
        svc_unpack (request, &kaiin__billing__list_request__descriptor, reply);
    if (!list)
        return -1;
    billing_check_enum (reply, "status", list->status, s_statuses, false);
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        const char *params [] = { list->status };
        PGresult *result = billing_run (request, reply, "coupon_list", 1, params);
        if (result)
            rc = billing_reply_rows (reply, result, 0, &kaiin__billing__coupon_list__descriptor);
        PQclear (result);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

int
coupon_api_deactivate (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Billing__IdRequest *deactivate = (Kaiin__Billing__IdRequest *)
        svc_unpack (request, &kaiin__billing__id_request__descriptor, reply);
    if (!deactivate)
        return -1;
    int rc = -1;
    const char *params [] = { deactivate->id };
    PGresult *result = billing_run (request, reply, "coupon_deactivate", 1, params);
    if (result && PQntuples (result) == 0)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "coupon not found");
    else
    if (result)
        rc = s_reply_coupon (reply, result);
    PQclear (result);
    protobuf_c_message_free_unpacked (&deactivate->base, NULL);
    return rc;
}

/* 1 when the member has a paid invoice, 0 when not, -1 on a database error (set). */
static int
s_member_paid (svc_request_t *request, svc_reply_t *reply, const char *member_id)
{
    const char *params [] = { billing_uuid (member_id)? member_id: NIL_UUID };
    PGresult *result = billing_run (request, reply, "coupon_member_paid", 1, params);
    if (!result)
        return -1;
    int paid = *PQgetvalue (result, 0, 0) == 't';
    PQclear (result);
    return paid;
}

/* Why the member cannot use coupon now (a field reason of billing's table of messages), or
   NULL when they can; -1 in *failed on a database error (set on reply). */
static const char *
s_unusable (svc_request_t *request, svc_reply_t *reply, const Kaiin__Billing__Coupon *coupon,
            const char *member_id, const char *member_rank, const char *plan_code,
            const char *applies_to, int *failed)
{
    *failed = 0;
    if (!coupon->active)
        return "is no longer active";
    if (coupon->redeem_by_ms && billing_now (request) > coupon->redeem_by_ms)
        return "has expired";
    if (coupon->max_redemptions && coupon->times_redeemed >= coupon->max_redemptions)
        return "has been redeemed as often as it may be";
    if (strcmp (coupon->applies_to, "all") != 0 && strcmp (coupon->applies_to, applies_to) != 0)
        return strcmp (coupon->applies_to, "subscriptions") == 0? "applies only to subscriptions"
                                                                : "applies only to one-off purchases";
    if (coupon->n_plans && !s_contains (coupon->plans, coupon->n_plans, plan_code))
        return *plan_code? "does not apply to this plan": "applies only to subscriptions to certain plans";
    if (coupon->n_ranks && !s_contains (coupon->ranks, coupon->n_ranks, member_rank))
        return "is not for members of this rank";
    if (coupon->first_purchase_only) {
        int paid = s_member_paid (request, reply, member_id);
        if (paid == -1)
            *failed = -1;
        else
        if (paid)
            return "is only for a member's first purchase";
    }
    return NULL;
}

Kaiin__Billing__Coupon *
coupon_pick (svc_request_t *request, svc_reply_t *reply, const char *code, const char *member_id,
             const char *member_rank, const char *plan_code, const char *applies_to)
{
    assert (code && member_id && member_rank && plan_code && applies_to);
    if (!*code) {
        char now [24];
        const char *params [] = { applies_to, NUM (now, billing_now (request)), plan_code, member_rank,
                                  billing_uuid (member_id)? member_id: NIL_UUID };
        PGresult *result = billing_run (request, reply, "coupon_promotion", 5, params);
        if (!result)
            return NULL;
        ProtobufCMessage *promotion = PQntuples (result)
            ? pg_row_message (result, 0, &kaiin__billing__coupon__descriptor): NULL;
        PQclear (result);
        return (Kaiin__Billing__Coupon *) promotion;
    }
    const char *params [] = { code };
    PGresult *result = billing_run (request, reply, "coupon_by_code", 1, params);
    if (!result)
        return NULL;
    if (PQntuples (result) == 0) {
        PQclear (result);
        svc_field_error (reply, "coupon_code", "is not a coupon");
        return NULL;
    }
    Kaiin__Billing__Coupon *coupon = (Kaiin__Billing__Coupon *)
        pg_row_message (result, 0, &kaiin__billing__coupon__descriptor);
    PQclear (result);
    int failed;
    const char *why = s_unusable (request, reply, coupon, member_id, member_rank, plan_code,
                                  applies_to, &failed);
    if (why)
        svc_field_error_say (reply, "coupon_code", why);
    if (why || failed) {
        protobuf_c_message_free_unpacked (&coupon->base, NULL);
        return NULL;
    }
    return coupon;
}

int64_t
coupon_discount (const Kaiin__Billing__Coupon *coupon, int64_t amount)
{
    if (!coupon || amount <= 0)
        return 0;
    if (coupon->percent_off)         /* floor (amount × percent / 100) without overflow */
        return amount / 100 * coupon->percent_off + amount % 100 * coupon->percent_off / 100;
    return coupon->amount_off < amount? coupon->amount_off: amount;
}

int
coupon_redeem (pg_t *db, const Kaiin__Billing__Coupon *coupon, const char *member_id,
               const char *subscription_id, const char *invoice_id, int64_t now_ms)
{
    const char *id [] = { coupon->id };
    PGresult *result = pg_run (db, "coupon_redeem", 1, id);
    if (!result)
        return -1;
    int redeemed = PQntuples (result);
    PQclear (result);
    if (!redeemed)
        return 1;
    char now [24];
    const char *params [] = { coupon->id, member_id, subscription_id? subscription_id: "",
                              invoice_id? invoice_id: "", NUM (now, now_ms) };
    result = pg_run (db, "coupon_redemption_insert", 5, params);
    if (!result)
        return -1;
    PQclear (result);
    return 0;
}
