/* problem.c - RFC 9457 problem details, and how service statuses map to HTTP */
#include "problem.h"
#include "messages.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every problem type the API answers: its status, title and what it means and what to do (the
   page its type URI serves). by_status: the one problem_new gives a status; the others are
   named where they are raised (cookie.c, routes.c, the member service's import). */
static const struct {
    unsigned int status;
    bool by_status;
    const char *slug;
    const char *title;
    const char *what, *what_ja;       /* what it means and what to do, in English and Japanese */
} s_problems [] = {
    { 400, true, "invalid-request", "The request is not valid",
      "A field of the request is missing or wrong. The problem's errors name each field and "
      "say why: correct them and send the request again.",
      "リクエストの項目が足りないか、正しくありません。problem の errors に項目ごとの理由が"
      "あります。直してからもう一度送ってください。" },
    { 401, true, "unauthenticated", "Authentication is required",
      "The request carries no valid credential. Sign in again (a session ends after its idle "
      "or absolute time-out), or send a valid API key as Authorization: Bearer.",
      "有効な認証情報がありません。もう一度サインインするか（セッションは一定時間操作がない"
      "とき、または一定の期間で終わります）、有効な API キーを Authorization: Bearer で送っ"
      "てください。" },
    { 403, true, "forbidden", "Not allowed",
      "Your role may not do this. An owner or an admin can give your account a role that may "
      "(docs/permissions.md lists what each role may do).",
      "あなたの役割ではこの操作はできません。オーナーか管理者が、できる役割をあなたのアカウ"
      "ントに付けられます（役割ごとにできることは docs/permissions.md にあります）。" },
    { 404, true, "not-found", "Not found",
      "Nothing is at this address, or you may not see it. Check the id: a withdrawn or erased "
      "record may be gone.",
      "このアドレスには何もないか、あなたには見えません。ID を確かめてください。退会・消去さ"
      "れた記録はもうないことがあります。" },
    { 405, true, "method-not-allowed", "Method not allowed",
      "This address does not take this method: the Allow header lists the ones it takes.",
      "このアドレスはこのメソッドを受け付けません。受け付けるものは Allow ヘッダーにあります。" },
    { 409, true, "conflict", "Conflict",
      "The request does not fit the record as it is now (an email already in use, an invoice "
      "already paid, an Idempotency-Key still in use). The detail says which: read the record "
      "again before you retry.",
      "リクエストが記録の今の状態と合いません（使用中のメールアドレス、支払い済みの請求書、"
      "処理中の Idempotency-Key など）。detail に理由があります。記録を読み直してからやり直"
      "してください。" },
    { 412, true, "precondition-failed", "The resource changed",
      "Someone changed the record since you read it: its ETag no longer matches your If-Match. "
      "Read it again, make your change on the new version and send it again.",
      "読み込んだ後に記録が変更されました（ETag が If-Match と合いません）。読み直し、新しい"
      "内容に変更を加えてから送り直してください。" },
    { 413, true, "payload-too-large", "The request body is too large",
      "The request body is larger than this address takes (1 MiB for most, 32 MiB for the CSV "
      "import). Send less, or split the file.",
      "リクエストの本文がこのアドレスの上限（多くは 1 MiB、CSV インポートは 32 MiB）を超えて"
      "います。量を減らすか、ファイルを分けてください。" },
    { 415, true, "unsupported-media-type", "Unsupported media type",
      "The body is not of a type this address reads: send application/json (text/csv to the "
      "import).",
      "本文の形式をこのアドレスは読めません。application/json（インポートは text/csv）で送っ"
      "てください。" },
    { 422, true, "unprocessable", "The request cannot be processed",
      "The request is well formed but cannot be done as it is, such as an Idempotency-Key used "
      "again with another body. A new request needs a new key.",
      "リクエストの形は正しいものの、このままでは実行できません（別の本文で Idempotency-Key "
      "を使い回した場合など）。新しいリクエストには新しいキーを使ってください。" },
    { 429, true, "rate-limited", "Too many requests",
      "Too many requests came from you in a short time. Wait the seconds that Retry-After says, "
      "then try again.",
      "短い時間にリクエストが多すぎました。Retry-After の秒数だけ待ってから、もう一度試して"
      "ください。" },
    { 500, true, "internal", "Internal error",
      "Something failed inside Kaiin and nothing half-done was kept. Try again; if it happens "
      "again, give the request_id to your administrator (the logs hold it).",
      "Kaiin の内部で失敗しました。途中までの変更は残っていません。もう一度試し、また起きた"
      "ら request_id を管理者に伝えてください（ログに記録されています）。" },
    { 501, true, "not-implemented", "Not implemented",
      "This is not available in this installation.",
      "この環境では使えません。" },
    { 502, true, "bad-gateway", "A service answered badly",
      "A service answered in a way the gateway cannot read. Try again; if it happens again, "
      "give the request_id to your administrator.",
      "サービスの応答をゲートウェイが読めませんでした。もう一度試し、また起きたら request_id "
      "を管理者に伝えてください。" },
    { 503, true, "service-unavailable", "Service unavailable",
      "A service is not running or is restarting, and nothing was done. Try again in a moment.",
      "サービスが動いていないか再起動中のため、何も行われませんでした。少し待ってから試して"
      "ください。" },
    { 504, true, "timeout", "The service did not answer in time",
      "The service did not answer in time: the request may or may not have been done. Read "
      "the record before you retry, or retry with the same Idempotency-Key.",
      "サービスが時間内に応答しませんでした。実行されたかどうかは分かりません。記録を確かめ"
      "てからやり直すか、同じ Idempotency-Key でやり直してください。" },
    { 403, false, "csrf", "CSRF token missing or wrong",
      "A change made in the console came without the token that proves it came from the console. "
      "Reload the page and try again.",
      "管理画面からの変更に、管理画面から来たことを示すトークンがありませんでした。ページを"
      "読み込み直してから試してください。" },
    { 503, false, "not-ready", "Not ready",
      "Kaiin is starting, or something it needs is down: the problem's checks say which.",
      "Kaiin が起動中か、必要なものが止まっています。どれかは problem の checks にあります。" },
    { 422, false, "import-refused", "The import was refused",
      "The CSV file was refused as a whole: in the all-or-nothing mode one bad row refuses "
      "the file. The report lists each row and column at fault; correct them, or import with "
      "mode=partial.",
      "CSV ファイル全体が取り消されました。すべてか無しかのモードでは、1 行でも誤りがあると"
      "ファイル全体が取り消されます。レポートに誤りのある行と列があります。直すか、mode=partial "
      "でインポートしてください。" },
};

json_t *
problem_new (unsigned int status, const char *code, const char *detail, const char *instance,
             const char *request_id, bool japanese)
{
    const char *slug = "error", *title = "Error";
    for (size_t i = 0; i < sizeof s_problems / sizeof s_problems [0]; i++)
        if (s_problems [i].by_status && s_problems [i].status == status) {
            slug = s_problems [i].slug;
            title = s_problems [i].title;
        }
    char type [64];
    snprintf (type, sizeof type, "/problems/%s", slug);
    title = messages_say (japanese, title);
    return json_pack ("{s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "type", type, "title", title,
                      "status", (int) status, "code", code? code: "",
                      "detail", detail? messages_say (japanese, detail): title,
                      "instance", instance? instance: "", "request_id", request_id? request_id: "");
}

void
problem_title_set (json_t *problem, bool japanese)
{
    const char *type = json_string_value (json_object_get (problem, "type"));
    if (!type || strncmp (type, "/problems/", 10) != 0)
        return;
    for (size_t i = 0; i < sizeof s_problems / sizeof s_problems [0]; i++)
        if (strcmp (s_problems [i].slug, type + 10) == 0)
            json_object_set_new (problem, "title", json_string (messages_say (japanese, s_problems [i].title)));
}

void
problem_code_set (json_t *problem)
{
    if (json_string_length (json_object_get (problem, "code")))
        return;
    const char *type = json_string_value (json_object_get (problem, "type"));
    char code [48] = "error";
    if (type && strncmp (type, "/problems/", 10) == 0 && type [10])
        snprintf (code, sizeof code, "%s", type + 10);
    for (char *c = code; *c; c++)
        if (*c == '-')
            *c = '_';
    json_object_set_new (problem, "code", json_string (code));
}

unsigned int
problem_status_of (Kaiin__Status status)
{
    switch (status) {
        case KAIIN__STATUS__OK:                  return 200;
        case KAIIN__STATUS__INVALID_ARGUMENT:    return 400;
        case KAIIN__STATUS__UNAUTHENTICATED:     return 401;
        case KAIIN__STATUS__PERMISSION_DENIED:   return 403;
        case KAIIN__STATUS__NOT_FOUND:           return 404;
        case KAIIN__STATUS__ALREADY_EXISTS:      return 409;
        case KAIIN__STATUS__FAILED_PRECONDITION: return 409;
        case KAIIN__STATUS__ABORTED:             return 412;
        case KAIIN__STATUS__UNIMPLEMENTED:       return 501;
        case KAIIN__STATUS__UNAVAILABLE:         return 503;
        case KAIIN__STATUS__DEADLINE_EXCEEDED:   return 504;
        default:                                 return 500;
    }
}

char *
problem_page (const char *slug, bool japanese)
{
    for (size_t i = 0; i < sizeof s_problems / sizeof s_problems [0]; i++) {
        if (strcmp (s_problems [i].slug, slug) != 0)
            continue;
        const char *title = messages_say (japanese, s_problems [i].title);
        char *page = NULL;
        if (asprintf (&page, "<!doctype html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
                      "<meta name=\"viewport\" content=\"width=device-width\"><title>%s - Kaiin</title></head>\n"
                      "<body><h1>%s</h1>\n<p><code>/problems/%s</code> (HTTP %u)</p>\n<p>%s</p>\n<p>%s</p>\n</body></html>\n",
                      japanese? "ja": "en", title, title, slug, s_problems [i].status,
                      japanese? s_problems [i].what_ja: s_problems [i].what,
                      japanese? "このリクエストに何が起きたかは problem の detail にあります。"
                                "問い合わせるときは request_id を伝えてください。"
                              : "The problem's detail says what happened to this request; give its "
                                "request_id when you ask for help.") < 0)
            return NULL;
        return page;
    }
    return NULL;
}
