/* recommend.h - what to offer a member next: the items members bought (purchased_items, from
   billing's purchase.completed and refund.created) and GET /v1/members/{id}/recommendations */
#ifndef KAIIN_RECOMMEND_H
#define KAIIN_RECOMMEND_H
#include "billing.pb-c.h"
#include "svc.h"

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void recommend_prepare (pg_t *db);

/* purchase.completed: keeps the purchase and each of its items, bought at at_ms (in the caller's
   transaction; read again, changes nothing). Returns 0 or -1. */
int recommend_purchased (pg_t *db, const Kaiin__Billing__Purchase *purchase, int64_t at_ms);

/* refund.created: adds the refund to the purchase of its invoice, if it is one; a purchase
   refunded in full is no longer owned nor counted. Returns 0 or -1. */
int recommend_refunded (pg_t *db, const Kaiin__Billing__Refund *refund);

/* analytics.Recommendations: RecommendationsRequest → Recommendations, as of the request's now.
   INVALID_ARGUMENT for a limit outside 1..20, NOT_FOUND for a member analytics never heard of. */
int recommend_api_list (svc_request_t *request, svc_reply_t *reply);

#endif
