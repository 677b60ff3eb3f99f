/* main.c - kaiin-messaging: templates, consent, automations, segments, campaigns, mails over
   SMTP */
#include "audience.h"
#include "automation.h"
#include "behaviour.h"
#include "campaign.h"
#include "click.h"
#include "link.h"
#include "mail.h"
#include "messaging_http.h"
#include "messaging_messages.h"
#include "notice.h"
#include "rate.h"
#include "scenario.h"
#include "segment.h"
#include "settings.h"
#include "signer.h"
#include "smtp.h"
#include "suppression.h"
#include "svc.h"
#include "template.h"
#include "trigger.h"
#include "unsubscribe.h"
#include "webhook.h"
#include <string.h>

static const svc_method_t s_methods [] = {
    { "SettingsGet",      settings_api_get,      false },
    { "SettingsUpdate",   settings_api_update,   false },
    { "TemplateCreate",   template_api_create,   true },
    { "TemplateGet",      template_api_get,      false },
    { "TemplateList",     template_api_list,     false },
    { "TemplateUpdate",   template_api_update,   false },
    { "TemplateDelete",   template_api_delete,   false },
    { "TemplatePreview",  template_api_preview,  false },
    { "TemplateDraftPreview", template_api_draft_preview, false },
    { "AutomationCreate", automation_api_create, true },
    { "AutomationGet",    automation_api_get,    false },
    { "AutomationList",   automation_api_list,   false },
    { "AutomationUpdate", automation_api_update, false },
    { "AutomationRuns",   automation_api_runs,   false },
    { "MailSend",         mail_api_send,         true },
    { "MailGet",          mail_api_get,          false },
    { "MailList",         mail_api_list,         false },
    { "Consent",          audience_api_consent,  false },
    { "SuppressionList",  suppression_api_list,  false },
    { "SuppressionAdd",   suppression_api_add,   true },
    { "SuppressionLift",  suppression_api_lift,  false },
    { "Unsubscribe",      unsubscribe_api_post,  false },
    { "SegmentCreate",    segment_api_create,    true },
    { "SegmentGet",       segment_api_get,       false },
    { "SegmentList",      segment_api_list,      false },
    { "SegmentUpdate",    segment_api_update,    false },
    { "SegmentDelete",    segment_api_delete,    false },
    { "SegmentCount",     segment_api_count,     false },
    { "SegmentMembers",   segment_api_members,   false },
    { "CampaignCreate",   campaign_api_create,   true },
    { "CampaignGet",      campaign_api_get,      false },
    { "CampaignList",     campaign_api_list,     false },
    { "CampaignUpdate",   campaign_api_update,   false },
    { "CampaignAction",   campaign_api_action,   true },
    { "CampaignTest",     campaign_api_test,     true },
    { "CampaignStats",    campaign_api_stats,    false },
    { "Click",            click_api_follow,      false },
    { "WebhookCreate",    webhook_api_create,    true },
    { "WebhookGet",       webhook_api_get,       false },
    { "WebhookList",      webhook_api_list,      false },
    { "WebhookUpdate",    webhook_api_update,    false },
    { "WebhookDelete",    webhook_api_delete,    false },
    { "WebhookDeliveries", webhook_api_deliveries, false },
    { "WebhookRedeliver", webhook_api_redeliver, false },
    { "WebhookRotateSecret", webhook_api_rotate_secret, true },
    { NULL, NULL, false }
};

static void
s_prepare (pg_t *db)
{
    settings_prepare (db);
    template_prepare (db);
    audience_prepare (db);
    suppression_prepare (db);
    mail_prepare (db);
    rate_prepare (db);
    trigger_prepare (db);
    automation_prepare (db);
    behaviour_prepare (db);
    segment_prepare (db);
    click_prepare (db);
    campaign_prepare (db);
    scenario_prepare (db);
    webhook_prepare (db);
    notice_prepare (db);
}

/* The scheduled work: a scheduled campaign whose time has come records its recipients; else
   each part takes one batch of its own, so that none waits for another's backlog (100 000
   renewals' receipts do not hold a campaign's mails back): automations' runs take their due
   steps (a send queues a mail), due mails go out, the owners' notices, one address at a
   time, then due webhook deliveries, one at a time; when none had any, campaigns with nothing
   left to send are sent. A database error ends the round there (-1): the connection may be
   gone, and the tick thread waits a moment (svc_tick_thread) before the next round, rather
   than sending the parts after it against the same failure one after the other. */
static int
s_tick (pg_t *db, int64_t now_ms)
{
    int done = campaign_start_due (db, now_ms);
    if (done != 0)
        return done;
    int (*const parts []) (pg_t *, int64_t) = { scenario_tick, mail_tick, notice_tick, webhook_tick };
    for (size_t i = 0; i < sizeof parts / sizeof parts [0]; i++) {
        int more = parts [i] (db, now_ms);
        if (more < 0)
            return -1;
        done += more;
    }
    if (done == 0)
        done = campaign_finish (db, now_ms);
    return done;
}

/* Its figures in messaging.Prometheus (GET /metrics/messaging), besides the runtime's: the
   queued mails are the relay's backlog. */
static const svc_gauge_t s_gauges [] = {
    { "kaiin_mails", "Mails by status (queued, sent, failed, suppressed ...).", "status",
      "select status, count (*) from mails group by status order by status" },
    { "kaiin_campaigns", "Campaigns by status.", "status",
      "select status, count (*) from campaigns group by status order by status" },
    { "kaiin_staff_notices", "Notices to the owners (analytics' alerts) by status.", "status",
      "select status, count (*) from staff_notices group by status order by status" },
    { "kaiin_webhook_deliveries", "Webhook deliveries by state (pending, succeeded, failed).", "state",
      "select state, count (*) from webhook_deliveries group by state order by state" },
    { NULL, NULL, NULL, NULL }
};

int
main (int argc, char **argv)
{
    bool healthcheck = argc >= 2 && strcmp (argv [1], "--healthcheck") == 0;
    if (!healthcheck) {
        link_configure ();
        signer_configure ();
        smtp_configure ();
        webhook_configure ();
    }
    svc_def_t messaging = { .name = "messaging", .methods = s_methods, .prepare = s_prepare,
                            .consumers = trigger_consumers, .tick = s_tick,
                            .http = &messaging_http, .messages = messaging_messages,
                            .gauges = s_gauges };
    int rc = svc_main (&messaging, argc, argv);
    if (!healthcheck) {
        smtp_shutdown ();
        signer_shutdown ();
        link_shutdown ();
    }
    return rc;
}
