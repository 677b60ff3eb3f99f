/* behaviour.c - what members do, as billing's and analytics' events tell it: paid purchases,
   their subscriptions' plans and churn-risk scores (segments filter on them), and the purchases
   that convert a campaign's click */
#include "behaviour.h"
#include "analytics.pb-c.h"
#include "billing.pb-c.h"
#include <string.h>

void
behaviour_prepare (pg_t *db)
{
    pg_prepare (db, "behaviour_purchase",
            "insert into member_facts (member_id, purchase_count, purchase_total, last_purchase_at_ms)"
            " values ($1, 1, $2, $3) on conflict (member_id) do update"
            " set purchase_count = member_facts.purchase_count + 1,"
            " purchase_total = member_facts.purchase_total + $2,"
            " last_purchase_at_ms = greatest (member_facts.last_purchase_at_ms, $3)");
    pg_prepare (db, "behaviour_convert",
            "update mails m set converted_at_ms = $2, conversion_amount = $3"
            " where m.member_id = $1 and m.campaign_id is not null and m.converted_at_ms = 0"
            " and exists (select 1 from clicks k where k.mail_id = m.id and k.at_ms <= $2"
            " and k.at_ms > $2 - $4)");
    pg_prepare (db, "behaviour_plan",
            "insert into member_plans (subscription_id, member_id, plan_code, status, updated_at_ms)"
            " values ($1, $2, $3, $4, $5) on conflict (subscription_id) do update"
            " set plan_code = $3, status = $4, updated_at_ms = $5");
    pg_prepare (db, "behaviour_scores",
            "insert into member_facts (member_id, churn_risk, churn_risk_at_ms, loyalty_segment)"
            " values ($1, $2, $3, $4) on conflict (member_id) do update"
            " set churn_risk = $2, churn_risk_at_ms = $3, loyalty_segment = $4"
            " where member_facts.churn_risk_at_ms <= $3");
    pg_prepare (db, "behaviour_churn_risk",
            "insert into member_facts (member_id, churn_risk, churn_risk_at_ms) values ($1, $2, $3)"
            " on conflict (member_id) do update set churn_risk = $2, churn_risk_at_ms = $3");
}

/* Sends one of the statements above down the consumer's transaction without waiting for it
   (its commit reads the answers). */
static int
s_run (pg_t *db, const char *name, int count, const char *const *params)
{
    return pg_defer (db, name, count, params);
}

int
behaviour_apply (pg_t *db, const Kaiin__Event *event, const ProtobufCMessage *payload,
                 const char *member_id)
{
    if (!payload || !messaging_uuid (member_id))
        return 0;
    const ProtobufCMessageDescriptor *descriptor = payload->descriptor;
    char a [24], b [24], window [24];
    if (descriptor == &kaiin__billing__purchase__descriptor
    &&  strcmp (event->type, "purchase.completed") == 0) {
        const Kaiin__Billing__Purchase *purchase = (const Kaiin__Billing__Purchase *) payload;
        const char *params [] = { member_id, NUM (a, purchase->invoice? purchase->invoice->total: 0),
                                  NUM (b, event->occurred_at_ms) };
        const char *convert [] = { member_id, b, a, NUM (window, CONVERSION_WINDOW_MS) };
        return s_run (db, "behaviour_purchase", 3, params) == 0
            && s_run (db, "behaviour_convert", 4, convert) == 0? 0: -1;
    }
    if (descriptor == &kaiin__billing__subscription__descriptor) {
        const Kaiin__Billing__Subscription *subscription = (const Kaiin__Billing__Subscription *) payload;
        const char *params [] = { subscription->id, member_id, subscription->plan_code,
                                  subscription->status, NUM (a, event->occurred_at_ms) };
        return *subscription->id? s_run (db, "behaviour_plan", 5, params): 0;
    }
    if (descriptor == &kaiin__analytics__scores__descriptor) {
        const Kaiin__Analytics__Scores *scores = (const Kaiin__Analytics__Scores *) payload;
        const char *params [] = { member_id, NUM (a, scores->churn_risk), NUM (b, event->occurred_at_ms),
                                  scores->segment };
        return s_run (db, "behaviour_scores", 4, params);
    }
    if (descriptor == &kaiin__analytics__signal__descriptor
    &&  strcmp (event->type, "signal.churn_risk") == 0) {
        const Kaiin__Analytics__Signal *signal = (const Kaiin__Analytics__Signal *) payload;
        const char *params [] = { member_id, NUM (a, signal->score), NUM (b, event->occurred_at_ms) };
        return s_run (db, "behaviour_churn_risk", 3, params);
    }
    return 0;
}
