/* member_export.c - members out as a CSV file that Excel opens (a UTF-8 BOM, Japanese or
   English headers; with Japanese ones, Japanese words for the status and consent), times in
   Japan (+09:00), the members a search selects; written to the audit log. The file goes out
   in parts (a paged route, svc_http.h): neither member nor the gateway ever holds it whole */
#include "member_export.h"
#include "audit.h"
#include "clock.h"
#include "config.h"
#include "csv.h"
#include "member_csv.h"
#include "member_csv.pb-c.h"
#include "member_search.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long s_part = 2000;              /* MEMBER_EXPORT_PART: members a part of the file
                                           (about 1 MB, a call of tens of milliseconds) */

#define JST_OFFSET_MS (9 * 3600 * 1000LL)

/* The time in Japan: "2026-12-04T18:30:00.123+09:00" into stamp (40 bytes). */
static void
s_japan_time (int64_t unix_ms, char *stamp)
{
    int64_t local_ms = unix_ms + JST_OFFSET_MS;
    time_t seconds = (time_t) (local_ms / 1000);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    size_t used = strftime (stamp, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (stamp + used, 40 - used, ".%03u+09:00", (unsigned) (local_ms % 1000) % 1000u);
}

static void
s_time_cell (pg_buffer_t *csv, int64_t unix_ms, int last)
{
    char stamp [40] = "";
    if (unix_ms)
        s_japan_time (unix_ms, stamp);
    csv_buffer_field (csv, stamp, last);
}

static void
s_export_member (pg_buffer_t *csv, const Kaiin__Member__Member *member, bool japanese)
{
    char tags [2048] = "";
    size_t used = 0;
    for (size_t i = 0; i < member->n_tags && used < sizeof tags - 1; i++)
        used += snprintf (tags + used, sizeof tags - used, "%s%s", i? ";": "", member->tags [i]);
    const char *opt_in = !member->marketing_consent? ""
                       : member_csv_word (member->marketing_consent->email_opt_in? "yes": "no", japanese);
    const char *cells [] = {
        member->id, member->email, member->name, member->name_kana, member->phone,
        member->birthday, member->postal_code, member->prefecture, member->address,
        member->rank, member_csv_word (member->status, japanese), tags, member->note, opt_in, member->attributes_json
    };
    for (size_t i = 0; i < sizeof cells / sizeof cells [0]; i++)
        csv_buffer_field (csv, cells [i]? cells [i]: "", 0);
    s_time_cell (csv, member->created_at_ms, 0);
    s_time_cell (csv, member->updated_at_ms, 0);
    s_time_cell (csv, member->withdrawn_at_ms, 1);
}

static void
s_export_header (pg_buffer_t *csv, bool english)
{
    static const char *const japanese [] = {
        "会員ID", "メールアドレス", "氏名", "フリガナ", "電話番号", "生年月日", "郵便番号", "都道府県",
        "住所", "ランク", "状態", "タグ", "メモ", "メール配信", "カスタム属性", "登録日時", "更新日時",
        "退会日時", NULL
    };
    static const char *const english_names [] = {
        "id", "email", "name", "name_kana", "phone", "birthday", "postal_code", "prefecture",
        "address", "rank", "status", "tags", "note", "email_opt_in", "attributes", "created_at",
        "updated_at", "withdrawn_at", NULL
    };
    const char *const *names = english? english_names: japanese;
    for (int i = 0; names [i]; i++)
        csv_buffer_field (csv, names [i], names [i + 1] == NULL);
}

void
member_export_prepare (pg_t *db)
{
    (void) db;                          /* its statements are the listing's (member_search.c) */
    s_part = config_int ("MEMBER_EXPORT_PART", 2000, 1, 10000);
}

/* The first part's own work: the count, the record of provision APPI asks for (who exported
   what, when, how many: written as the file starts, since a client may stop reading it), the
   file's name and the header row. */
static int
s_export_start (svc_request_t *request, const Kaiin__Member__ListRequest *list,
                const member_search_t *prepared, bool english, pg_buffer_t *csv, svc_reply_t *reply)
{
    int64_t count;
    if (member_search_count (request->db, &prepared->query, &count) != MEMBER_OK)
        return svc_db_fail (reply, request->db);
    json_t *details = json_pack ("{s:I, s:s, s:s, s:s, s:s}", "count", (json_int_t) count,
        "status", list->status, "q", list->q, "rank", list->rank, "email", list->email);
    char *text = json_dumps (details, JSON_COMPACT);
    json_decref (details);
    audit_actor_t actor = audit_actor_of (request, clock_now_ms ());
    int rc = 0;
    if (pg_begin (request->db) == -1
    ||  audit_append (request->db, &actor, "member.exported", "export", "", text) == -1
    ||  pg_commit (request->db) == -1) {
        pg_rollback (request->db);
        rc = svc_db_fail (reply, request->db);
    }
    free (text);
    if (rc == -1)
        return -1;
    char stamp [40];
    s_japan_time (actor.now_ms, stamp);         /* the file is named for the day in Japan */
    svc_reply_header (reply, "Content-Disposition", "attachment; filename=\"members-%.4s%.2s%.2s.csv\"",
                      stamp, stamp + 5, stamp + 8);
    svc_reply_header (reply, "X-Total-Count", "%lld", (long long) count);
    pg_buffer_append (csv, "\xEF\xBB\xBF", 3);                 /* so that Excel reads UTF-8 */
    s_export_header (csv, english);
    return 0;
}

/* A part of the file: the first (page "") starts it; each part is the next MEMBER_EXPORT_PART members
   after the position the part before named, in a transaction of its own (a member changed
   meanwhile shows as it is when its part is read; none comes twice or is skipped). */
int
member_api_export (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberCsv__ExportRequest *export = (Kaiin__MemberCsv__ExportRequest *)
        svc_unpack (request, &kaiin__member_csv__export_request__descriptor, reply);
    if (!export)
        return -1;
    Kaiin__Member__ListRequest filters = KAIIN__MEMBER__LIST_REQUEST__INIT;
    if (export->query)
        filters = *export->query;       /* a shallow copy: its strings stay the message's */
    filters.limit = 0;
    filters.cursor = export->page;      /* a part's page is the listing's cursor after it */
    member_search_t prepared;
    int rc = -1;
    if (member_search_query (request, &filters, &prepared, reply) == 0) {
        bool english = export->english_headers || strcmp (export->headers, "en") == 0;
        pg_buffer_t csv = { 0 };
        rc = *export->page? 0: s_export_start (request, &filters, &prepared, english, &csv, reply);
        Kaiin__Member__ListReply *page = NULL;
        member_position_t last;
        int more = 0;
        prepared.query.limit = (int) s_part;
        if (rc == 0 && member_search_page (request->db, &prepared.query, &page, &last, &more) != MEMBER_OK)
            rc = svc_db_fail (reply, request->db);
        if (rc == 0) {
            for (size_t i = 0; i < page->n_members; i++)
                s_export_member (&csv, page->members [i], !english);
            char next [700] = "";
            if (more)
                member_search_cursor (&last, prepared.query.sort, next, sizeof next);
            Kaiin__MemberCsv__ExportReply result = KAIIN__MEMBER_CSV__EXPORT_REPLY__INIT;
            result.csv.data = (uint8_t *) csv.text;
            result.csv.len = csv.used;
            result.count = (int32_t) page->n_members;
            result.next_page = next;
            svc_reply_with (reply, &result.base);
        }
        if (page)
            protobuf_c_message_free_unpacked (&page->base, NULL);
        free (csv.text);
        member_search_release (&prepared);
    }
    protobuf_c_message_free_unpacked (&export->base, NULL);
    return rc;
}
