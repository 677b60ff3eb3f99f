/* settings.h - the issuer's name and registration number, the dunning schedule, expiries */
#ifndef KAIIN_BILLING_SETTINGS_H
#define KAIIN_BILLING_SETTINGS_H
#include "billing.h"

void settings_prepare (pg_t *db);

/* The settings as they are now; NULL on a database error. */
Kaiin__Billing__Settings *settings_load (pg_t *db);

svc_handler_fn settings_api_get, settings_api_update;

#endif
