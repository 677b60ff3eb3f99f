/* messages.c - the sentences a client reads, in English and in Japanese: the gateway's
   problems and the runtime's messages and field reasons here; each service adds its own
   table (svc_def_t.messages) */
#include "messages.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* English as the code writes it (the key), its Japanese, with the same printf conversions in
   the same order, and its stable code (messages.h; tests/unit/test_messages.c checks).
   Sorted by where the words are written; a sentence missing here is answered in English. */
static const messages_entry_t s_messages [] = {
    /* the gateway: problem titles (gateway/problem.c) */
    { "The request is not valid", "リクエストが正しくありません", "invalid_request" },
    { "Authentication is required", "認証が必要です", "unauthenticated" },
    { "Not allowed", "許可されていません", "forbidden" },
    { "Not found", "見つかりません", "not_found" },
    { "Method not allowed", "このメソッドは使えません", "method_not_allowed" },
    { "Conflict", "競合しています", "conflict" },
    { "The resource changed", "対象が更新されています", "precondition_failed" },
    { "The request body is too large", "リクエストの本文が大きすぎます", "payload_too_large" },
    { "Unsupported media type", "対応していない形式です", "unsupported_media_type" },
    { "The request cannot be processed", "リクエストを処理できません", "unprocessable" },
    { "Too many requests", "リクエストが多すぎます", "rate_limited" },
    { "Internal error", "内部エラーです", "internal" },
    { "Not implemented", "実装されていません", "not_implemented" },
    { "A service answered badly", "サービスの応答が不正です", "bad_gateway" },
    { "Service unavailable", "サービスを利用できません", "service_unavailable" },
    { "The service did not answer in time", "サービスが時間内に応答しませんでした", "timeout" },
    { "Error", "エラー", "error" },
    { "CSRF token missing or wrong", "CSRF トークンがないか、正しくありません", "csrf" },
    { "Not ready", "準備ができていません", "not_ready" },
    { "The import was refused", "インポートは取り消されました", "import_refused" },
    { "no such problem type", "そのような problem の種類はありません", "problem_type_not_found" },
    /* the gateway: its own details */
    { "the request has invalid fields", "リクエストに不正な項目があります", "invalid_fields" },
    { "the service did not answer before the deadline", "サービスが期限までに応答しませんでした", "service_deadline_passed" },
    { "the service is not available right now", "サービスは現在利用できません", "service_down" },
    { "the service stopped while working on the request: it may or may not have been done",
      "サービスが処理の途中で停止しました。処理が行われたかどうかはわかりません", "service_lost_request" },
    { "the service sent a reply that cannot be read", "サービスの応答を読めません", "service_reply_unreadable" },
    { "the change is saved, but its sessions could not be ended yet",
      "変更は保存されましたが、セッションをまだ終了できていません", "sessions_not_ended" },
    { "no such route", "そのようなルートはありません", "route_not_found" },
    { "a valid bearer token is required", "有効なベアラートークンが必要です", "token_required" },
    { "too many failed logins: try again later", "ログインの失敗が多すぎます。しばらくしてからやり直してください",
      "login_throttled" },
    { "the session store is not available right now", "セッションの保存先は現在利用できません",
      "session_store_unavailable" },
    /* the service runtime (common/svc*.c) */
    { "the database is unavailable", "データベースを利用できません", "database_unavailable" },
    { "internal error (sqlstate %s)", "内部エラーです (sqlstate %s)", "database_error" },
    { "the deadline passed before the work began", "処理を始める前に期限が過ぎました", "deadline_passed" },
    { "a request with this Idempotency-Key is in progress",
      "この Idempotency-Key のリクエストは処理中です", "idempotency_key_in_use" },
    { "a request with this key is still in progress; retry later",
      "このキーのリクエストはまだ処理中です。後でやり直してください", "idempotency_key_in_progress" },
    { "was already used with a different request", "別のリクエストで使われています", "idempotency_key_reused" },
    { "the change was not committed", "変更は確定されませんでした", "not_committed" },
    /* the runtime's reading of JSON, paths and queries by the declared rules (common/svc_http.c,
       common/pb_json.c) */
    { "must not be null", "null は指定できません", "not_null" },
    { "must not be empty", "空にはできません", "empty" },
    { "must be one of %s", "%s のいずれかを指定してください", "not_one_of" },
    { "may only contain %s", "使える文字は %s だけです", "invalid_characters" },
    { "must be %s", "%s を指定してください", "invalid_format" },
    { "must be an integer from %lld to %lld", "%lld から %lld までの整数を指定してください", "integer_out_of_range" },
    { "must be an integer from %ld to %ld", "%ld から %ld までの整数を指定してください", "integer_out_of_range" },
    { "must be an integer from 0 to %lu", "0 から %lu までの整数を指定してください", "integer_out_of_range" },
    { "must be an integer", "整数を指定してください", "not_integer" },
    { "must be true or false", "true または false を指定してください", "not_boolean" },
    { "must be a string", "文字列を指定してください", "not_string" },
    { "must not contain NUL characters", "NUL 文字は使えません", "nul_character" },
    { "must be a number%s", "数値を指定してください%s", "not_number" },
    { "must be base64 (RFC 4648, padded)", "base64 (RFC 4648、パディングあり) で指定してください", "not_base64" },
    { "must be an array", "配列を指定してください", "not_array" },
    { "must be an RFC 3339 date-time, e.g. 2027-03-31T23:59:59+09:00",
      "RFC 3339 の日時を指定してください(例: 2027-03-31T23:59:59+09:00)", "not_datetime" },
    /* a date-time of the past (member: a consent's time; billing: when an invoice was paid) */
    { "must not be in the future", "未来の日時は指定できません", "in_future" },
    { "cannot be given with %s", "%s と一緒には指定できません", "exclusive_with" },
    { "must not nest objects more than %d deep", "オブジェクトの入れ子は %d 段までです", "too_deep" },
    { "is not a field of this request", "このリクエストの項目ではありません", "unknown_field" },
    { "cannot be changed", "変更できません", "immutable" },
    { "cannot be given in the URL", "URL では指定できません", "not_in_url" },
    { "is not a query parameter of this route", "このルートのクエリパラメータではありません", "unknown_parameter" },
    { "is not valid JSON: %s at line %d, column %d", "正しい JSON ではありません: %s(%d 行目、%d 列目)",
      "invalid_json" },
    { "must name a %s: %s<%s>", "%s を指定してください: %s<%s>", "key_missing" },
    { "may be given once", "1 回だけ指定できます", "repeated_parameter" },
    /* sentences several services write */
    { "is required", "必須です", "required" },
    { "must be at most %d characters", "%d 文字以内で入力してください", "too_long" },
    { "must be a JSON object", "JSON オブジェクトを指定してください", "not_object" },
    { "no such member", "会員が見つかりません", "member_not_found" },
    { "member not found", "会員が見つかりません", "member_not_found" },
    { "must be a member id", "会員 ID の形式で指定してください", "not_member_id" },
    { "must be 1 to %ld characters", "1〜%ld 文字で入力してください", "length_out_of_range" },
    { "must be from 1 to %d", "1〜%d で指定してください", "out_of_range" },
    { "must be from 1 to 100", "1〜100 で指定してください", "out_of_range" },
    { "is not a cursor this API returned", "この API が返したカーソルではありません", "invalid_cursor" },
    { "must be UTF-8 text without control characters", "制御文字を含まない UTF-8 のテキストで入力してください", "invalid_text" },
    { "the member has withdrawn", "この会員は退会しています", "member_withdrawn" },
    { "the member service did not answer", "会員サービスが応答しませんでした", "member_service_did_not_answer" },
    { "the settings were changed meanwhile", "設定が他の操作で更新されました。最新の内容でやり直してください", "settings_changed" },
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

/* The entry whose English is english, or NULL. */
static const messages_entry_t *
s_find (const char *english)
{
    for (size_t i = 0; i < sizeof s_messages / sizeof s_messages [0]; i++)
        if (strcmp (s_messages [i].english, english) == 0)
            return &s_messages [i];
    for (int t = 0; t < TABLES_MAX && s_tables [t]; t++)
        for (const messages_entry_t *entry = s_tables [t]; entry->english; entry++)
            if (strcmp (entry->english, english) == 0)
                return entry;
    return NULL;
}

const char *
messages_japanese (const char *english)
{
    const messages_entry_t *entry = s_find (english);
    return entry? entry->japanese: NULL;
}

const char *
messages_code (const char *english)
{
    const messages_entry_t *entry = english? s_find (english): NULL;
    return entry? entry->code: NULL;
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
