/* payment_method.h - a member's cards (provider tokens), konbini and bank transfer */
#ifndef KAIIN_BILLING_PAYMENT_METHOD_H
#define KAIIN_BILLING_PAYMENT_METHOD_H
#include "billing.h"

void payment_method_prepare (pg_t *db);

/* The member's active method id, or their default when id is ""; NULL with a field error on
   field (or a database error) set on reply. */
Kaiin__Billing__PaymentMethod *payment_method_find (svc_request_t *request, svc_reply_t *reply,
                                                    const char *member_id, const char *id,
                                                    const char *field);

/* PaymentMethodGet: one method by id, active or detached; an id that is not a uuid is a
   field error on "id". */
svc_handler_fn payment_method_api_attach, payment_method_api_list, payment_method_api_get,
               payment_method_api_detach;

/* Tick: announces cards that expire next month (payment_method.expiring), once each. */
int payment_method_tick (pg_t *db, int64_t now_ms);

#endif
