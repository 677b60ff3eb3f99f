/* settings.h - the sender: From, Reply-To, and the legal footer's business, address, contact */
#ifndef KAIIN_MESSAGING_SETTINGS_H
#define KAIIN_MESSAGING_SETTINGS_H
#include "messaging.h"

/* The settings' columns, of the settings row named s (a query may join it): a row of them is
   a Settings message by pg_row_message. */
#define SETTINGS_COLUMNS "s.from_name, s.from_address, s.reply_to, s.business_name," \
    " s.postal_address, s.contact, s.version, s.marketing_cap_per_week, s.pause_failure_percent," \
    " s.pause_after, s.rate_per_minute, s.charset"

void settings_prepare (pg_t *db);

/* The settings as they are now; NULL on a database error. The caller frees with
   protobuf_c_message_free_unpacked. */
Kaiin__Messaging__Settings *settings_load (pg_t *db);

/* Why settings cannot send marketing mail (特定電子メール法: every such mail names the sender, its
   postal address and a contact, beside the opt-out link), a sentence of messaging's table of
   messages, or NULL when they can. */
const char *settings_legal_gap (const Kaiin__Messaging__Settings *settings);

svc_handler_fn settings_api_get, settings_api_update;

#endif
