/* analytics_messages.c - the analytics service's sentences in Japanese: its field reasons (those
   member, billing or messaging write too, and the runtime's and the gateway's, are in
   common/messages.c) */
#include "analytics_messages.h"
#include <stddef.h>

const messages_entry_t analytics_messages [] = {
    /* lists (services/analytics/analytics.c, timeline.c) */
    { "is not a cursor this list gave", "この一覧が返したカーソルではありません", "is_not_cursor_this_list_gave" },
    /* the months metrics and cohorts cover (metrics.c, cohorts.c) */
    { "must be a month, YYYY-MM", "月を YYYY-MM の形式で指定してください", "must_be_month_yyyy_mm" },
    { "must not be after the current month, %s", "今月(%s)より後の月は指定できません", "must_not_be_after_current_month" },
    { "must not be after to", "to より後の月は指定できません", "must_not_be_after_to" },
    { "must be at most %d months before to", "to を含めて %d か月以内の月を指定してください", "must_be_at_most_months_before_to" },
    { "must be at most %d months before the current month", "今月を含めて %d か月以内の月を指定してください", "must_be_at_most_months_before_current_month" },
    { "must be json or csv", "json または csv を指定してください", "must_be_json_or_csv" },
    /* alerts and their rules (alerts.c) */
    { "no such alert", "アラートが見つかりません", "alert_not_found" },
    { "no such alert rule", "アラートのルールが見つかりません", "alert_rule_not_found" },
    /* the milestones staff set (settings.c) */
    { "must have at most %d milestones", "節目は %d 個までにしてください", "must_have_at_most_milestones" },
    { "must be greater than the one before it", "前の値より大きい数を指定してください", "must_be_greater_than_one_before_it" },
    /* the rank automation's rules (ranks.c) */
    { "must have at most %d rules", "ルールは %d 件までにしてください", "must_have_at_most_rules" },
    { "is not a member rank (GET /v1/member-ranks)", "会員ランクにありません（GET /v1/member-ranks）", "not_member_rank" },
    { NULL, NULL, NULL }
};
