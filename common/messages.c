/* messages.c - the sentences a client reads, in English and in Japanese: the gateway's
   problems and the runtime's messages and field reasons here; each service adds its own
   table (svc_def_t.messages) */
#include "messages.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* English as the code writes it (the key), and its Japanese, with the same printf
   conversions in the same order (tests/unit/test_messages.c checks). Sorted by where the
   words are written; a sentence missing here is answered in English. */
static const messages_entry_t s_messages [] = {
    /* the gateway: problem titles (gateway/problem.c) */
    { "The request is not valid", "リクエストが正しくありません" },
    { "Authentication is required", "認証が必要です" },
    { "Not allowed", "許可されていません" },
    { "Not found", "見つかりません" },
    { "Method not allowed", "このメソッドは使えません" },
    { "Conflict", "競合しています" },
    { "The resource changed", "対象が更新されています" },
    { "The request body is too large", "リクエストの本文が大きすぎます" },
    { "Unsupported media type", "対応していない形式です" },
    { "The request cannot be processed", "リクエストを処理できません" },
    { "Too many requests", "リクエストが多すぎます" },
    { "Internal error", "内部エラーです" },
    { "Not implemented", "実装されていません" },
    { "A service answered badly", "サービスの応答が不正です" },
    { "Service unavailable", "サービスを利用できません" },
    { "The service did not answer in time", "サービスが時間内に応答しませんでした" },
    { "Error", "エラー" },
    { "CSRF token missing or wrong", "CSRF トークンがないか、正しくありません" },
    { "Not ready", "準備ができていません" },
    { "The import was refused", "インポートは取り消されました" },
    { "no such problem type", "そのような problem の種類はありません" },
    /* the gateway: its own details */
    { "the request has invalid fields", "リクエストに不正な項目があります" },
    { "the service did not answer before the deadline", "サービスが期限までに応答しませんでした" },
    { "the service is not available right now", "サービスは現在利用できません" },
    { "the service sent a reply that cannot be read", "サービスの応答を読めません" },
    { "the change is saved, but its sessions could not be ended yet",
      "変更は保存されましたが、セッションをまだ終了できていません" },
    /* the service runtime (common/svc*.c) */
    { "the database is unavailable", "データベースを利用できません" },
    { "internal error (sqlstate %s)", "内部エラーです (sqlstate %s)" },
    /* what services say when another one they ask is down (billing, analytics) */
    { "the member service did not answer", "会員サービスが応答しませんでした" },
    { "the deadline passed before the work began", "処理を始める前に期限が過ぎました" },
    { "a request with this Idempotency-Key is in progress",
      "この Idempotency-Key のリクエストは処理中です" },
    { "a request with this key is still in progress; retry later",
      "このキーのリクエストはまだ処理中です。後でやり直してください" },
    { "was already used with a different request", "別のリクエストで使われています" },
    { "the change was not committed", "変更は確定されませんでした" },
    /* the runtime's reading of JSON, paths and queries by the declared rules (common/svc_http.c,
       common/pb_json.c) */
    { "must not be null", "null は指定できません" },
    { "must not be empty", "空にはできません" },
    { "must be one of %s", "%s のいずれかを指定してください" },
    { "may only contain %s", "使える文字は %s だけです" },
    { "must be %s", "%s を指定してください" },
    { "must be an integer from %lld to %lld", "%lld から %lld までの整数を指定してください" },
    { "must be an integer from %ld to %ld", "%ld から %ld までの整数を指定してください" },
    { "must be an integer from 0 to %lu", "0 から %lu までの整数を指定してください" },
    { "must be an integer", "整数を指定してください" },
    { "must be true or false", "true または false を指定してください" },
    { "must be a string", "文字列を指定してください" },
    { "must not contain NUL characters", "NUL 文字は使えません" },
    { "must be a number%s", "数値を指定してください%s" },
    { "must be base64 (RFC 4648, padded)", "base64 (RFC 4648、パディングあり) で指定してください" },
    { "must be an array", "配列を指定してください" },
    { "must be an RFC 3339 date-time, e.g. 2027-03-31T23:59:59+09:00",
      "RFC 3339 の日時を指定してください(例: 2027-03-31T23:59:59+09:00)" },
    /* a date-time of the past (member: a consent's time; billing: when an invoice was paid) */
    { "must not be in the future", "未来の日時は指定できません" },
    { "cannot be given with %s", "%s と一緒には指定できません" },
    { "must not nest objects more than %d deep", "オブジェクトの入れ子は %d 段までです" },
    { "is not a field of this request", "このリクエストの項目ではありません" },
    { "cannot be changed", "変更できません" },
    { "cannot be given in the URL", "URL では指定できません" },
    { "is not a query parameter of this route", "このルートのクエリパラメータではありません" },
    { "may be given once", "1 回だけ指定できます" },
    /* sentences several services write */
    { "is required", "必須です" },
    { "must be at most %d characters", "%d 文字以内で入力してください" },
    { "must be a JSON object", "JSON オブジェクトを指定してください" },
    { "no such member", "会員が見つかりません" },
    { "member not found", "会員が見つかりません" },
    { "must be a member id", "会員 ID の形式で指定してください" },
    { "must be 1 to %ld characters", "1〜%ld 文字で入力してください" },
    { "must be from 1 to %d", "1〜%d で指定してください" },
    { "must be from 1 to 100", "1〜100 で指定してください" },
    { "is not a cursor this API returned", "この API が返したカーソルではありません" },
    { "must be UTF-8 text without control characters", "制御文字を含まない UTF-8 のテキストで入力してください" },
    { "the member has withdrawn", "この会員は退会しています" },
    { "the settings were changed meanwhile", "設定が他の操作で更新されました。最新の内容でやり直してください" },
};

#define TABLES_MAX 4
static const messages_entry_t *s_tables [TABLES_MAX];      /* the services' own, NULL-ended */

void
messages_add (const messages_entry_t *table)
{
    for (int i = 0; i < TABLES_MAX; i++)
        if (!s_tables [i] || s_tables [i] == table) {
            s_tables [i] = table;
            return;
        }
    assert (!"more message tables than TABLES_MAX");
}

const char *
messages_japanese (const char *english)
{
    for (size_t i = 0; i < sizeof s_messages / sizeof s_messages [0]; i++)
        if (strcmp (s_messages [i].english, english) == 0)
            return s_messages [i].japanese;
    for (int t = 0; t < TABLES_MAX && s_tables [t]; t++)
        for (const messages_entry_t *entry = s_tables [t]; entry->english; entry++)
            if (strcmp (entry->english, english) == 0)
                return entry->japanese;
    return NULL;
}

const char *
messages_say (bool japanese, const char *english)
{
    const char *found = japanese? messages_japanese (english): NULL;
    return found? found: english;
}

bool
messages_prefer_japanese (const char *accept_language)
{
    double best_q = -1;
    bool japanese = false;
    const char *cursor = accept_language? accept_language: "";
    while (*cursor) {
        cursor += strspn (cursor, " ,");
        size_t tag_length = strcspn (cursor, " ;,");
        if (tag_length == 0)
            break;
        const char *tag = cursor;
        cursor += tag_length;
        double q = 1;
        const char *end = cursor + strcspn (cursor, ",");
        const char *weight = strstr (cursor, "q=");
        if (weight && weight < end)
            q = strtod (weight + 2, NULL);
        if (q > best_q) {
            best_q = q;
            japanese = q > 0 && strncasecmp (tag, "ja", 2) == 0 && (tag_length == 2 || tag [2] == '-');
        }
        cursor = end;
    }
    return japanese;
}
