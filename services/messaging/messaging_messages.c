/* messaging_messages.c - the messaging service's sentences in Japanese: its field reasons and
   its messages (those member, billing or analytics write too, and the runtime's and the
   gateway's, are in common/messages.c) */
#include "messaging_messages.h"
#include <stddef.h>

const messages_entry_t messaging_messages [] = {
    /* what every module checks (services/messaging/messaging.c) */
    { "must be UTF-8 text", "UTF-8 のテキストで入力してください" },
    { "must be one line of UTF-8 text", "1 行の UTF-8 テキストで入力してください" },
    { "the %s was changed meanwhile", "%s が他の操作で更新されました。最新の内容でやり直してください" },
    /* sender settings (settings.c) */
    { "must be an email address", "メールアドレスを入力してください" },
    /* templates (template.c) */
    { "must be one of transactional, marketing", "transactional または marketing を指定してください" },
    { "html or text must be given", "html か text のどちらかを指定してください" },
    { "template not found", "テンプレートが見つかりません" },
    { "is not a template", "該当するテンプレートがありません" },
    { "is not a member messaging knows", "messaging に登録されていない会員です" },
    /* automations and their scenarios (automation.c, scenario.c) */
    { "must be a service whose events messaging reads",
      "messaging がイベントを受け取るサービスを指定してください" },
    { "must be an event type such as member.registered",
      "member.registered のようなイベントの種類を指定してください" },
    { "must be from 0 to %d", "0〜%d で指定してください" },
    { "is given with template_id or delay_minutes: give one or the other",
      "template_id や delay_minutes と一緒には指定できません。どちらか一方にしてください" },
    { "is required (or template_id, for the one-step scenario)",
      "必須です(1 ステップのシナリオなら template_id でも指定できます)" },
    { "the automation was changed meanwhile",
      "オートメーションが他の操作で更新されました。最新の内容でやり直してください" },
    { "automation not found", "オートメーションが見つかりません" },
    { "has an unknown key '%s': it takes %s", "不明なキー '%s' があります(使えるキー: %s)" },
    { "must give minutes (after the previous step) or days and at (after the trigger, at a time of"
      " day in JST)",
      "minutes(前のステップから)か、days と at(トリガーから、日本時間の時刻)を指定してください" },
    { "must be an integer from 0 to %d", "0〜%d の整数を指定してください" },
    { "takes at with days only", "at は days と一緒にだけ指定できます" },
    { "must be a time of day in JST, HH:MM (00:00 to 23:59)",
      "日本時間の時刻を HH:MM(00:00〜23:59)で指定してください" },
    { "must give add or remove, a tag", "add か remove のどちらかにタグを指定してください" },
    { "must be a tag", "タグを指定してください" },
    { "must be logged_in (since the run began) or clicked (the previous mail, within days of its"
      " sending)",
      "logged_in(実行開始後のログイン)か clicked(直前のメールの送信から days 日以内のクリック)を指定してください" },
    { "must be an integer from 1 to %d", "1〜%d の整数を指定してください" },
    { "is taken by if clicked only", "if が clicked のときだけ指定できます" },
    { "must be a later step's index, from %zu to %zu (%zu: the end)",
      "後のステップの番号を %zu〜%zu で指定してください(%zu は終了)" },
    { "must be an array of 1 to %d steps", "1〜%d 個のステップの配列を指定してください" },
    { "must be one of {\"wait\": {…}}, {\"send\": {…}}, {\"tag\": {…}}, {\"branch\": {…}}",
      "{\"wait\": {…}}、{\"send\": {…}}、{\"tag\": {…}}、{\"branch\": {…}} のいずれかを指定してください" },
    { "must be an object: {\"source\", \"event_type\"}",
      "{\"source\", \"event_type\"} のオブジェクトを指定してください" },
    { "must be an event type such as member.logged_in",
      "member.logged_in のようなイベントの種類を指定してください" },
    /* segments (segment.c) */
    { "segment not found", "セグメントが見つかりません" },
    { "a campaign not yet sent or canceled sends to this segment",
      "送信の終わっていないキャンペーンがこのセグメントを使っています" },
    { "must be a next_cursor this route returned", "このルートが返した next_cursor を指定してください" },
    /* campaigns (campaign.c) */
    { "is not a segment", "該当するセグメントがありません" },
    { "campaign not found", "キャンペーンが見つかりません" },
    { "the campaign is %s: only a draft can be changed",
      "キャンペーンは %s の状態です。変更できるのは下書き(draft)だけです" },
    { "the campaign was changed meanwhile",
      "キャンペーンが他の操作で更新されました。最新の内容でやり直してください" },
    { "a marketing mail cannot be sent: %s", "マーケティングメールを送信できません: %s" },
    { "the campaign is %s: it cannot be %s", "キャンペーンは %s の状態のため、%s にはできません" },
    { "its segment was deleted", "キャンペーンのセグメントが削除されています" },
    { "the relay did not take the test mail: %s", "中継サーバーがテストメールを受け付けませんでした: %s" },
    /* mails, clicks and unsubscribes (mail.c, click.c, unsubscribe.c) */
    { "must be a campaign id", "キャンペーン ID の形式で指定してください" },
    { "is not a link this service made", "このサービスが発行したリンクではありません" },
    { "link not found", "リンクが見つかりません" },
    { "is not an unsubscribe link this service made", "このサービスが発行した配信停止リンクではありません" },
    { NULL, NULL }
};
