/* recommend.c - what to offer a member next, item-to-item collaborative filtering as Amazon
   described it (Linden, Smith and York, 2003): the items bought by the members who bought the
   member's items, each scored by how similar its buyers are to those of the member's items.

   For a member m owning the items O (skus of purchases not refunded in full), each other item
   j scores  Σ over i in O of  buyers(i ∩ j) / √(buyers(i) · buyers(j)),  the cosine of the two
   items' sets of buyers, so a bestseller every member has is not offered to everyone. Its
   reason is "bought_together" when some member bought it in one purchase with one of O,
   else "similar_members". When those are fewer than asked, the items most members bought in
   the 90 days before now fill the list ("popular", scored by those buyers). Never an item m
   owns; ties by sku (byte order). README.md, "Recommendations". */
#include "recommend.h"
#include "analytics.h"
#include "analytics.pb-c.h"
#include "pg_row.h"
#include "timeline.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT_DEFAULT 5
#define LIMIT_MAX 20
#define POPULAR_WINDOW "7776000000"     /* 90 days in milliseconds, for the SQL */

void
recommend_prepare (pg_t *db)
{
    pg_prepare (db, "recommend_purchase",
            "insert into purchases (purchase_id, member_id, invoice_id, total, at_ms)"
            " values ($1, $2, $3, $4, $5) on conflict do nothing");
    pg_prepare (db, "recommend_item",
            "insert into purchased_items (purchase_id, line, member_id, sku, description, quantity, at_ms)"
            " values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing");
    pg_prepare (db, "recommend_refund",
            "update purchases set refunded = refunded + $2 where invoice_id = $1 and $1 <> ''");
    /* $1 the member, $2 now, $3 how many */
    pg_prepare (db, "recommend_list",
            "with bought as (select i.member_id, i.purchase_id, i.sku, i.at_ms from purchased_items i"
            "   join purchases p using (purchase_id) where not (p.refunded > 0 and p.refunded >= p.total)),"
            " mine as (select distinct sku from bought where member_id = $1),"
            " buyers as (select sku, count (distinct member_id) as n from bought group by sku),"
            " pairs as (select a.sku as owned, b.sku, count (distinct a.member_id) as together,"
            "   bool_or (a.purchase_id = b.purchase_id) as basket"
            "   from bought a join bought b on b.member_id = a.member_id and b.sku <> a.sku"
            "   where a.sku in (select sku from mine) and b.sku not in (select sku from mine)"
            "   group by a.sku, b.sku),"
            " alike as (select p.sku,"
            "   round (sum (p.together / sqrt (o.n * c.n))::numeric, 4)::float8 as score,"
            "   case when bool_or (p.basket) then 'bought_together' else 'similar_members' end as reason,"
            "   0 as rank from pairs p join buyers o on o.sku = p.owned join buyers c on c.sku = p.sku"
            "   group by p.sku),"
            " popular as (select sku, count (distinct member_id)::float8 as score, 'popular' as reason,"
            "   1 as rank from bought where at_ms > $2::bigint - " POPULAR_WINDOW " and at_ms <= $2::bigint"
            "   and sku not in (select sku from mine) and sku not in (select sku from alike)"
            "   group by sku),"
            " offered as (select * from alike union all select * from popular),"
            " named as (select distinct on (sku) sku, description from purchased_items"
            "   where sku in (select sku from offered) order by sku, at_ms desc, purchase_id desc, line desc)"
            " select o.sku, n.description, o.score, o.reason from offered o join named n using (sku)"
            " order by o.rank, o.score desc, o.sku collate \"C\" limit $3");
}

int
recommend_purchased (pg_t *db, const Kaiin__Billing__Purchase *purchase, int64_t at_ms)
{
    if (!*purchase->id || !*purchase->member_id)
        return 0;
    char total [24], at [24];
    snprintf (total, sizeof total, "%lld", (long long) (purchase->invoice? purchase->invoice->total: 0));
    snprintf (at, sizeof at, "%lld", (long long) at_ms);
    const char *row [] = { purchase->id, purchase->member_id,
                           purchase->invoice? purchase->invoice->id: "", total, at };
    if (pg_defer (db, "recommend_purchase", 5, row) == -1)
        return -1;
    for (size_t i = 0; i < purchase->n_items; i++) {
        const Kaiin__Billing__PurchaseItem *item = purchase->items [i];
        char line [24], quantity [16];
        snprintf (line, sizeof line, "%zu", i);
        snprintf (quantity, sizeof quantity, "%d", item->quantity);
        const char *params [] = { purchase->id, line, purchase->member_id, item->sku, item->description,
                                  quantity, at };
        if (*item->sku && pg_defer (db, "recommend_item", 7, params) == -1)
            return -1;
    }
    return 0;
}

int
recommend_refunded (pg_t *db, const Kaiin__Billing__Refund *refund)
{
    char amount [24];
    snprintf (amount, sizeof amount, "%lld", (long long) refund->amount);
    const char *params [] = { refund->invoice_id, amount };
    return pg_defer (db, "recommend_refund", 2, params);
}

int
recommend_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__RecommendationsRequest *list = (Kaiin__Analytics__RecommendationsRequest *)
        svc_unpack (request, &kaiin__analytics__recommendations_request__descriptor, reply);
    if (!list)
        return -1;
    int rc = -1;
    PGresult *result = NULL;
    Kaiin__Analytics__Recommendations answer = KAIIN__ANALYTICS__RECOMMENDATIONS__INIT;
    int64_t now_ms = request->envelope->now_ms;
    int size = list->limit? list->limit: LIMIT_DEFAULT;
    if (size < 1 || size > LIMIT_MAX) {       /* a service's call: the gateway checked HTTP's */
        svc_field_error (reply, "limit", "must be an integer from %lld to %lld", 1LL, (long long) LIMIT_MAX);
        goto done;
    }
    if (timeline_member_known (request, reply, list->member_id) == -1)
        goto done;
    char now [24], limit [16];
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    snprintf (limit, sizeof limit, "%d", size);
    const char *params [] = { list->member_id, now, limit };
    if (!(result = pg_run (request->db, "recommend_list", 3, params))) {
        svc_db_fail (reply, request->db);
        goto done;
    }
    answer.member_id = list->member_id;
    answer.as_of_ms = now_ms;
    for (int row = 0; row < PQntuples (result); row++)
        pg_row_append ((void ***) &answer.items, &answer.n_items,
                       pg_row_message (result, row, &kaiin__analytics__recommendation__descriptor));
    rc = svc_reply_with (reply, &answer.base);
    for (size_t i = 0; i < answer.n_items; i++)
        protobuf_c_message_free_unpacked (&answer.items [i]->base, NULL);
    free (answer.items);
done:
    PQclear (result);
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}
