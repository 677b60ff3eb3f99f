/* campaign.h - campaigns (一斉配信): a template to a segment's members, now or at a time, at a
   rate; its recipients recorded as mail rows when it starts; pause, resume, cancel, a test send,
   and its figures */
#ifndef KAIIN_MESSAGING_CAMPAIGN_H
#define KAIIN_MESSAGING_CAMPAIGN_H
#include "messaging.h"

void campaign_prepare (pg_t *db);

/* Starts one scheduled campaign whose time has come (svc_tick_fn): records its recipients and
   makes it sending, in one transaction. Returns 1 when it started one, 0 when none is due,
   -1 on a database error. */
int campaign_start_due (pg_t *db, int64_t now_ms);

/* After one of campaign id's mails failed or bounced, inside the caller's transaction: pauses
   the campaign (its queued mails held, the reason kept) once the settings' pause_after of its
   mails were tried and more than pause_failure_percent of them failed or bounced. Returns 0 or
   -1. */
int campaign_guard (pg_t *db, const char *id, int64_t now_ms);

/* Marks sent the sending campaigns with no mail left to send (svc_tick_fn). Returns how many,
   or -1. */
int campaign_finish (pg_t *db, int64_t now_ms);

svc_handler_fn campaign_api_create, campaign_api_get, campaign_api_list, campaign_api_update,
               campaign_api_action, campaign_api_test, campaign_api_stats;

#endif
