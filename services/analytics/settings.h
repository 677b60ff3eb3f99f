/* settings.h - what staff tune in analytics (the settings table): the days without a login that
   make a member inactive, the churn-risk score that raises signal.churn_risk, and the purchase
   and spend milestones that raise signal.purchase_milestone */
#ifndef KAIIN_ANALYTICS_SETTINGS_H
#define KAIIN_ANALYTICS_SETTINGS_H
#include "svc.h"
#include "analytics.pb-c.h"

#define SETTINGS_MILESTONES_MAX 8               /* of each kind */
#define SETTINGS_PURCHASES_MAX 1000000LL        /* a purchase milestone: the Nth purchase, at most */
#define SETTINGS_SPEND_MAX 1000000000000LL      /* a spend milestone, yen, at most (billing's
                                                   largest amount, 10^12) */

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void settings_prepare (pg_t *db);

/* The current settings (the caller frees them with protobuf_c_message_free_unpacked), or NULL
   on a database error. */
Kaiin__Analytics__Settings *settings_load (pg_t *db);

/* The two numbers the signals and the metrics use, as now set. Returns 0, or -1 on a database
   error. */
int settings_numbers (pg_t *db, int *inactive_days, int *churn_risk_threshold);

/* analytics.SettingsGet: SettingsRequest → Settings. */
int settings_api_get (svc_request_t *request, svc_reply_t *reply);

/* analytics.SettingsUpdate: Settings (update_mask, if_version) → Settings. INVALID_ARGUMENT
   naming the field (purchase_milestones[2]) for milestones that are too many, out of range or
   not strictly ascending; ABORTED when if_version is not the current version. */
int settings_api_update (svc_request_t *request, svc_reply_t *reply);

#endif
