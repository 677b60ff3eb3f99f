/* member_csv.c - members in and out as CSV files, the way Japanese businesses keep them in Excel */
#include "member_csv.h"
#include "clock.h"
#include "csv.h"
#include "attribute_store.h"
#include "member_api.h"
#include "member_csv.pb-c.h"
#include "member_store.h"
#include <assert.h>
#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define MAX_ERRORS   1000
#define EXPORT_PAGE  1000

/* The columns Kaiin reads and writes: the first name of each is what exports write in
   Japanese, the English key what they write with english_headers; both and the other
   spellings are read. */
typedef enum {
    COL_EMAIL, COL_NAME, COL_NAME_KANA, COL_PHONE, COL_BIRTHDAY, COL_POSTAL_CODE, COL_PREFECTURE,
    COL_ADDRESS, COL_RANK, COL_TAGS, COL_NOTE, COL_OPT_IN, COL_COUNT
} column_t;

static const struct {
    const char *key;
    const char *names [6];
} s_columns [COL_COUNT] = {
    [COL_EMAIL]       = { "email",        { "メールアドレス", "メール", "Eメール", "e-mail", "mail" } },
    [COL_NAME]        = { "name",         { "氏名", "名前", "お名前", "顧客名" } },
    [COL_NAME_KANA]   = { "name_kana",    { "フリガナ", "ふりがな", "カナ", "氏名カナ", "氏名(カナ)" } },
    [COL_PHONE]       = { "phone",        { "電話番号", "電話", "携帯電話", "tel" } },
    [COL_BIRTHDAY]    = { "birthday",     { "生年月日", "誕生日" } },
    [COL_POSTAL_CODE] = { "postal_code",  { "郵便番号", "〒" } },
    [COL_PREFECTURE]  = { "prefecture",   { "都道府県" } },
    [COL_ADDRESS]     = { "address",      { "住所" } },
    [COL_RANK]        = { "rank",         { "ランク", "会員ランク" } },
    [COL_TAGS]        = { "tags",         { "タグ" } },
    [COL_NOTE]        = { "note",         { "メモ", "備考" } },
    [COL_OPT_IN]      = { "email_opt_in", { "メール配信", "メルマガ", "メルマガ配信" } },
};

/* The export's columns that an import reads past: Kaiin sets them itself. */
static const char *const s_read_only_columns [] = {
    "会員ID", "id", "状態", "status", "カスタム属性", "attributes", "登録日時", "created_at",
    "更新日時", "updated_at", "退会日時", "withdrawn_at", NULL
};

#define COL_IGNORED (-2)

/* Which column a header names, COL_IGNORED for one of the export's read-only columns, or -1. Surrounding spaces, full-width parentheses and the
   letter case of English names do not matter. */
static int
s_column_of (const char *header)
{
    char name [128];
    size_t used = 0;
    for (const char *c = header; *c && used < sizeof name - 4; c++) {
        if (strncmp (c, "（", 3) == 0 || strncmp (c, "）", 3) == 0) {
            name [used++] = strncmp (c, "（", 3) == 0? '(': ')';
            c += 2;
        }
        else
        if (*c != ' ' && strncmp (c, "\u3000", 3) != 0)
            name [used++] = *c;
        else
        if (*c != ' ')
            c += 2;
    }
    name [used] = 0;
    for (const char *const *read_only = s_read_only_columns; *read_only; read_only++)
        if (strcasecmp (name, *read_only) == 0)
            return COL_IGNORED;
    for (int column = 0; column < COL_COUNT; column++) {
        if (strcasecmp (name, s_columns [column].key) == 0)
            return column;
        for (int i = 0; i < 6 && s_columns [column].names [i]; i++)
            if (strcasecmp (name, s_columns [column].names [i]) == 0)
                return column;
    }
    return -1;
}

/* Reads a yes/no cell: 1, 0, or -1 when it is neither. */
static int
s_yes_no (const char *text)
{
    static const char *const yes [] = { "1", "yes", "y", "true", "はい", "希望する", "する", "○", "〇", NULL };
    static const char *const no [] = { "0", "no", "n", "false", "いいえ", "希望しない", "しない", "×", NULL };
    for (const char *const *word = yes; *word; word++)
        if (strcasecmp (text, *word) == 0)
            return 1;
    for (const char *const *word = no; *word; word++)
        if (strcasecmp (text, *word) == 0)
            return 0;
    return -1;
}

/* One data row kept for writing. Strings are owned. */
typedef struct {
    int line;
    char *cells [COL_COUNT];        /* NULL where the file has no such column */
    char *email_key;                /* lower-cased email, for matching */
    char *member_id;                /* the existing member with this email, if any */
} row_t;

typedef struct {
    Kaiin__MemberCsv__ImportReply *reply;
    Kaiin__MemberCsv__RowError *errors;
    const char *headers [COL_COUNT];    /* each column's header as the file writes it */
    char header_text [COL_COUNT][128];
    Kaiin__Member__RankListReply ranks; /* the ranks defined, to check the rank column */
} report_t;

static bool
s_rank_known (const report_t *report, const char *code)
{
    for (size_t i = 0; i < report->ranks.n_ranks; i++)
        if (strcmp (report->ranks.ranks [i]->code, code) == 0)
            return true;
    return false;
}

static void
s_reject (report_t *report, int line, const char *column, const char *reason)
{
    Kaiin__MemberCsv__ImportReply *reply = report->reply;
    if (reply->n_errors == MAX_ERRORS)
        return;
    Kaiin__MemberCsv__RowError *error = &report->errors [reply->n_errors];
    kaiin__member_csv__row_error__init (error);
    error->row = line;
    error->column = strdup (column);
    error->reason = strdup (reason);
    reply->errors [reply->n_errors++] = error;
}

static void
s_row_free (row_t *row)
{
    for (int column = 0; column < COL_COUNT; column++)
        free (row->cells [column]);
    free (row->email_key);
    free (row->member_id);
}

static const char *
s_cell (const row_t *row, column_t column)
{
    return row->cells [column]? row->cells [column]: "";
}

/* Splits a tags cell at commas, 、 or semicolons into tags (borrowed pointers into copy). */
static size_t
s_split_tags (char *copy, char **tags, size_t max)
{
    size_t count = 0;
    char *cursor = copy;
    while (*cursor && count < max) {
        size_t length = strcspn (cursor, ",;");
        char *comma = strstr (cursor, "、");
        if (comma && (size_t) (comma - cursor) < length)
            length = comma - cursor;
        char *end = cursor + length;
        char next = *end;
        *end = 0;
        while (*cursor == ' ')
            cursor++;
        for (char *tail = end - 1; tail >= cursor && *tail == ' '; tail--)
            *tail = 0;
        if (*cursor)
            tags [count++] = cursor;
        cursor = next? end + (next == ',' || next == ';'? 1: 3): end;
    }
    return count;
}

/* Builds the create request of a row (strings borrowed from the row). */
static void
s_create_of (const row_t *row, Kaiin__Member__CreateRequest *create, Kaiin__Member__Consent *consent,
             int64_t now_ms)
{
    kaiin__member__create_request__init (create);
    create->email = (char *) s_cell (row, COL_EMAIL);
    create->name = (char *) s_cell (row, COL_NAME);
    create->name_kana = (char *) s_cell (row, COL_NAME_KANA);
    create->phone = (char *) s_cell (row, COL_PHONE);
    create->birthday = (char *) s_cell (row, COL_BIRTHDAY);
    create->postal_code = (char *) s_cell (row, COL_POSTAL_CODE);
    create->prefecture = (char *) s_cell (row, COL_PREFECTURE);
    create->address = (char *) s_cell (row, COL_ADDRESS);
    create->rank = (char *) s_cell (row, COL_RANK);
    create->note = (char *) s_cell (row, COL_NOTE);
    if (*s_cell (row, COL_OPT_IN)) {
        kaiin__member__consent__init (consent);
        consent->email_opt_in = s_yes_no (s_cell (row, COL_OPT_IN)) == 1;
        consent->at_ms = now_ms;
        consent->method = "import";
        consent->source = "CSV import";
        create->marketing_consent = consent;
    }
}

/* Checks one row as member.Create would, naming the file's own column in each error. */
static bool
s_check_row (svc_request_t *request, row_t *row, report_t *report)
{
    bool ok = true;
    if (row->cells [COL_OPT_IN] && *row->cells [COL_OPT_IN] && s_yes_no (row->cells [COL_OPT_IN]) < 0) {
        s_reject (report, row->line, report->headers [COL_OPT_IN], "must be yes or no (はい/いいえ, 1/0)");
        ok = false;
    }
    if (row->cells [COL_TAGS] && *row->cells [COL_TAGS]) {
        char *copy = strdup (row->cells [COL_TAGS]), *tags [101];
        size_t count = s_split_tags (copy, tags, 101);
        for (size_t i = 0; i < count && ok; i++) {
            long length = member_api_text_length (tags [i]);
            if (length < 1 || length > 50) {
                s_reject (report, row->line, report->headers [COL_TAGS],
                          "each tag must be 1 to 50 characters, without control characters");
                ok = false;
            }
        }
        if (ok && count > 100) {
            s_reject (report, row->line, report->headers [COL_TAGS], "at most 100 tags");
            ok = false;
        }
        free (copy);
    }
    Kaiin__Member__CreateRequest create;
    Kaiin__Member__Consent consent;
    s_create_of (row, &create, &consent, 0);
    char *postal = strdup (create.postal_code);     /* owned: the check may replace it */
    create.postal_code = postal;
    svc_reply_t reply = { .status = KAIIN__STATUS__OK };
    int checked = member_api_check_create (request, &create, &reply);
    postal = create.postal_code;        /* the check may have replaced it with its normal form */
    if (checked == -1) {
        for (size_t i = 0; i < reply.error_count; i++) {
            int column = s_column_of (reply.errors [i].field);
            s_reject (report, row->line, column >= 0 && report->headers [column]
                      ? report->headers [column]: reply.errors [i].field, reply.errors [i].reason);
        }
        if (reply.error_count == 0)
            s_reject (report, row->line, "", reply.message);
        ok = false;
    }
    else
    if (*create.rank && !s_rank_known (report, create.rank)) {
        s_reject (report, row->line, report->headers [COL_RANK], "is not a rank defined in Kaiin");
        ok = false;
    }
    else
    if (row->cells [COL_POSTAL_CODE]) {
        free (row->cells [COL_POSTAL_CODE]);            /* keep the normalised 123-4567 */
        row->cells [COL_POSTAL_CODE] = postal;
        postal = NULL;
    }
    free (postal);
    free (reply.payload);
    return ok;
}

static int
s_compare_keys (const void *a, const void *b)
{
    return strcmp (((const row_t *) a)->email_key, ((const row_t *) b)->email_key);
}

/* Writes one row: an update of the member with its email (the file's non-empty cells only),
   or a new member; then its tags. Returns 0, or -1 with the reply failed. */
static int
s_write_row (svc_request_t *request, const row_t *row, const audit_actor_t *actor, svc_reply_t *reply,
             Kaiin__MemberCsv__ImportReply *report)
{
    pg_t *db = request->db;
    Kaiin__Member__CreateRequest create;
    Kaiin__Member__Consent consent;
    s_create_of (row, &create, &consent, actor->now_ms);
    Kaiin__Member__Member member = KAIIN__MEMBER__MEMBER__INIT;
    member_store_rc_t rc;
    if (row->member_id) {
        Kaiin__Member__UpdateRequest update = KAIIN__MEMBER__UPDATE_REQUEST__INIT;
        char *mask [COL_COUNT];
        update.id = row->member_id;
        update.name = create.name;
        update.name_kana = create.name_kana;
        update.phone = create.phone;
        update.birthday = create.birthday;
        update.postal_code = create.postal_code;
        update.prefecture = create.prefecture;
        update.address = create.address;
        update.rank = create.rank;
        update.note = create.note;
        update.marketing_consent = create.marketing_consent;
        static const struct { column_t column; const char *field; } fields [] = {
            { COL_NAME, "name" }, { COL_NAME_KANA, "name_kana" }, { COL_PHONE, "phone" },
            { COL_BIRTHDAY, "birthday" }, { COL_POSTAL_CODE, "postal_code" },
            { COL_PREFECTURE, "prefecture" }, { COL_ADDRESS, "address" }, { COL_RANK, "rank" },
            { COL_NOTE, "note" }, { COL_OPT_IN, "marketing_consent" }
        };
        for (size_t i = 0; i < sizeof fields / sizeof fields [0]; i++)
            if (*s_cell (row, fields [i].column))
                mask [update.n_update_mask++] = (char *) fields [i].field;
        update.update_mask = mask;
        rc = member_store_update (db, &update, actor, &member);
        report->updated++;
    }
    else {
        rc = member_store_create (db, &create, actor, &member);
        report->created++;
    }
    bool written = rc == MEMBER_STORE_OK;
    if (written && *s_cell (row, COL_TAGS)) {
        char *copy = strdup (s_cell (row, COL_TAGS)), *tags [100];
        Kaiin__Member__TagRequest tag = KAIIN__MEMBER__TAG_REQUEST__INIT;
        tag.id = member.id;
        tag.add = tags;
        tag.n_add = s_split_tags (copy, tags, 100);
        Kaiin__Member__Member tagged = KAIIN__MEMBER__MEMBER__INIT;
        rc = member_store_tag (db, &tag, actor, &tagged);
        if (rc == MEMBER_STORE_OK)
            member_store_clear (&tagged);
        free (copy);
    }
    if (written)
        member_store_clear (&member);
    if (rc == MEMBER_STORE_OK)
        return 0;
    char where [64];
    snprintf (where, sizeof where, "row %d", row->line);
    if (rc == MEMBER_STORE_DUPLICATE)
        return svc_fail (reply, KAIIN__STATUS__ABORTED, "%s: another member took this email meanwhile", where);
    if (rc == MEMBER_STORE_ERROR)
        return svc_db_fail (reply, db);
    return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "%s could not be written (%d)", where, rc);
}

static int
s_compare_text (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Fills member with the record a new row becomes, as the database would store it: a new UUID,
   version 1, status free, rank basic unless given, its tags sorted and unique. Strings are
   borrowed from the row, except the id (owned) and the tag list (tags_copy, owned). */
static void
s_member_of (const row_t *row, const audit_actor_t *actor, Kaiin__Member__Member *member,
             Kaiin__Member__Consent *consent, char **tags_copy, char **tags)
{
    Kaiin__Member__CreateRequest create;
    s_create_of (row, &create, consent, actor->now_ms);
    kaiin__member__member__init (member);
    unsigned char random [16];
    if (getrandom (random, sizeof random, 0) != sizeof random)
        memset (random, 0, sizeof random);
    random [6] = (random [6] & 0x0F) | 0x40;       /* version 4 */
    random [8] = (random [8] & 0x3F) | 0x80;       /* RFC 4122 variant */
    char *id = malloc (37);
    assert (id);
    snprintf (id, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
              random [0], random [1], random [2], random [3], random [4], random [5], random [6],
              random [7], random [8], random [9], random [10], random [11], random [12],
              random [13], random [14], random [15]);
    member->id = id;
    member->email = create.email;
    member->name = create.name;
    member->name_kana = create.name_kana;
    member->phone = create.phone;
    member->birthday = create.birthday;
    member->postal_code = create.postal_code;
    member->prefecture = create.prefecture;
    member->address = create.address;
    member->rank = *create.rank? create.rank: "basic";
    member->note = create.note;
    member->attributes_json = "{}";
    member->status = "free";
    member->version = 1;
    member->created_at_ms = member->updated_at_ms = actor->now_ms;
    member->marketing_consent = create.marketing_consent;
    *tags_copy = strdup (s_cell (row, COL_TAGS));
    size_t count = s_split_tags (*tags_copy, tags, 100);
    qsort (tags, count, sizeof *tags, s_compare_text);
    size_t unique = 0;
    for (size_t i = 0; i < count; i++)
        if (!unique || strcmp (tags [unique - 1], tags [i]) != 0)
            tags [unique++] = tags [i];
    member->tags = tags;
    member->n_tags = unique;
}

/* Writes every new row at once. Returns 0, or -1 with the reply failed. */
static int
s_create_all (svc_request_t *request, row_t *rows, size_t count, const audit_actor_t *actor,
              svc_reply_t *reply, Kaiin__MemberCsv__ImportReply *report)
{
    size_t fresh = 0;
    for (size_t i = 0; i < count; i++)
        fresh += rows [i].member_id == NULL;
    if (fresh == 0)
        return 0;
    Kaiin__Member__Member *members = calloc (fresh, sizeof *members);
    Kaiin__Member__Member **list = calloc (fresh, sizeof *list);
    Kaiin__Member__Consent *consents = calloc (fresh, sizeof *consents);
    char **copies = calloc (fresh, sizeof *copies);
    char *(*tags) [100] = calloc (fresh, sizeof *tags);
    assert (members && list && consents && copies && tags);
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        if (!rows [i].member_id) {
            s_member_of (&rows [i], actor, &members [n], &consents [n], &copies [n], tags [n]);
            list [n] = &members [n];
            n++;
        }
    member_store_rc_t rc = member_store_insert_bulk (request->db, list, n, actor);
    for (size_t i = 0; i < n; i++) {
        free (members [i].id);
        free (copies [i]);
    }
    free (members);
    free (list);
    free (consents);
    free (copies);
    free (tags);
    if (rc == MEMBER_STORE_OK) {
        report->created += (int32_t) n;
        return 0;
    }
    if (rc == MEMBER_STORE_DUPLICATE)
        return svc_fail (reply, KAIIN__STATUS__ABORTED, "another member took one of these emails meanwhile");
    if (rc == MEMBER_STORE_NO_RANK)
        return svc_fail (reply, KAIIN__STATUS__ABORTED, "a rank was removed meanwhile");
    return svc_db_fail (reply, request->db);
}

/* Reads the header and every row of text into rows (kept ones) and report (rejected ones). */
static int
s_read_file (svc_request_t *request, const char *text, size_t size, report_t *report,
             row_t **rows_p, size_t *count_p)
{
    csv_reader_t *reader = csv_reader_new (text, size);
    char **fields;
    int line, count = csv_reader_next (reader, &fields, &line);
    int columns [256];
    int column_count = count > 0? count: 0;
    if (count <= 0) {
        s_reject (report, 1, "", count == 0? "the file is empty": "a quoted field is never closed");
        csv_reader_destroy (&reader);
        return -1;
    }
    for (int i = 0; i < column_count && i < 256; i++) {
        columns [i] = s_column_of (fields [i]);
        if (columns [i] == COL_IGNORED)
            continue;
        if (columns [i] < 0) {
            char reason [200];
            snprintf (reason, sizeof reason, "is not a column Kaiin knows (%s)", fields [i]);
            s_reject (report, 1, fields [i], reason);
        }
        else
        if (report->headers [columns [i]])
            s_reject (report, 1, fields [i], "names a column given twice");
        else {
            snprintf (report->header_text [columns [i]], sizeof report->header_text [0], "%s", fields [i]);
            report->headers [columns [i]] = report->header_text [columns [i]];
        }
    }
    if (!report->headers [COL_EMAIL])
        s_reject (report, 1, "", "the file needs an email column (メールアドレス)");
    if (report->reply->n_errors) {
        csv_reader_destroy (&reader);
        return -1;
    }
    size_t capacity = 1024, kept = 0;
    row_t *rows = calloc (capacity, sizeof *rows);
    assert (rows);
    /* Rows are numbered as a spreadsheet shows them: the header is row 1, and a record whose
       quoted cell holds line breaks is still one row. */
    while ((count = csv_reader_next (reader, &fields, &line)) != 0) {
        line = ++report->reply->rows + 1;
        if (count < 0) {
            s_reject (report, line, "", "a quoted field is never closed");
            report->reply->rejected++;
            break;
        }
        if (count != column_count) {
            char reason [96];
            snprintf (reason, sizeof reason, "has %d fields where the header has %d", count, column_count);
            s_reject (report, line, "", reason);
            report->reply->rejected++;
            continue;
        }
        if (kept == capacity) {
            rows = realloc (rows, (capacity *= 2) * sizeof *rows);
            assert (rows);
        }
        row_t *row = &rows [kept];
        memset (row, 0, sizeof *row);
        row->line = line;
        for (int i = 0; i < count; i++) {
            if (columns [i] == COL_IGNORED)
                continue;
            char *cell = fields [i];
            size_t length = strlen (cell);
            while (length && (cell [length - 1] == ' ' || cell [length - 1] == '\t'))
                cell [--length] = 0;
            while (*cell == ' ' || *cell == '\t')
                cell++;
            row->cells [columns [i]] = strdup (cell);
        }
        if (!s_check_row (request, row, report)) {
            report->reply->rejected++;
            s_row_free (row);
            continue;
        }
        row->email_key = strdup (s_cell (row, COL_EMAIL));
        for (char *c = row->email_key; *c; c++)
            *c = (char) tolower ((unsigned char) *c);
        kept++;
    }
    csv_reader_destroy (&reader);
    /* One email twice in a file: the later rows are refused (sorted by email, then line). */
    qsort (rows, kept, sizeof *rows, s_compare_keys);
    size_t unique = 0;
    for (size_t i = 0; i < kept; i++) {
        if (unique && strcmp (rows [unique - 1].email_key, rows [i].email_key) == 0) {
            bool later = rows [i].line > rows [unique - 1].line;
            row_t *dropped = later? &rows [i]: &rows [unique - 1];
            char reason [96];
            snprintf (reason, sizeof reason, "repeats the email of row %d",
                      later? rows [unique - 1].line: rows [i].line);
            s_reject (report, dropped->line, report->headers [COL_EMAIL], reason);
            report->reply->rejected++;
            if (!later) {
                row_t keep = rows [i];
                s_row_free (&rows [unique - 1]);
                rows [unique - 1] = keep;
            }
            else
                s_row_free (&rows [i]);
            continue;
        }
        rows [unique++] = rows [i];
    }
    *rows_p = rows;
    *count_p = unique;
    return 0;
}

static int
s_compare_lines (const void *a, const void *b)
{
    return ((const row_t *) a)->line - ((const row_t *) b)->line;
}

static int
s_compare_errors (const void *a, const void *b)
{
    const Kaiin__MemberCsv__RowError *x = *(Kaiin__MemberCsv__RowError *const *) a;
    const Kaiin__MemberCsv__RowError *y = *(Kaiin__MemberCsv__RowError *const *) b;
    return x->row - y->row;
}

/* Finds which rows' emails belong to members already (one query for the whole file). */
static int
s_match_members (pg_t *db, row_t *rows, size_t count)
{
    size_t size = 1;
    for (size_t i = 0; i < count; i++)
        size += strlen (rows [i].email_key) + 1;
    char *emails = malloc (size), *cursor = emails;
    assert (emails);
    *cursor = 0;
    for (size_t i = 0; i < count; i++) {
        size_t length = strlen (rows [i].email_key);
        if (i)
            *cursor++ = '\n';
        memcpy (cursor, rows [i].email_key, length + 1);
        cursor += length;
    }
    PGresult *result = member_store_ids_by_email (db, emails);
    free (emails);
    if (!result)
        return -1;
    for (int r = 0; r < PQntuples (result); r++) {
        row_t key = { .email_key = PQgetvalue (result, r, 0) };
        row_t *row = bsearch (&key, rows, count, sizeof *rows, s_compare_keys);
        if (row)
            row->member_id = strdup (PQgetvalue (result, r, 1));
    }
    PQclear (result);
    return 0;
}

int
member_csv_import (svc_request_t *request, svc_reply_t *reply)
{
    const char *role = request->envelope->caller_role;
    if (strcmp (role, "owner") && strcmp (role, "admin"))
        return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "the role '%s' may not import members", role);
    Kaiin__MemberCsv__ImportRequest *import = (Kaiin__MemberCsv__ImportRequest *)
        svc_unpack (request, &kaiin__member_csv__import_request__descriptor, reply);
    if (!import)
        return -1;
    Kaiin__MemberCsv__ImportReply result = KAIIN__MEMBER_CSV__IMPORT_REPLY__INIT;
    report_t report = { .reply = &result, .errors = calloc (MAX_ERRORS, sizeof *report.errors),
                        .ranks = KAIIN__MEMBER__RANK_LIST_REPLY__INIT };
    result.errors = calloc (MAX_ERRORS, sizeof *result.errors);
    assert (report.errors && result.errors);
    size_t size;
    const char *charset = "";
    char *text = csv_to_utf8 ((const char *) import->csv.data, import->csv.len, &size, &charset);
    result.charset = (char *) charset;
    row_t *rows = NULL;
    size_t count = 0;
    int rc = 0;
    if (attribute_store_ranks (request->db, &report.ranks) != MEMBER_STORE_OK
    ||  member_api_cache_attributes (request, true) == -1)
        rc = svc_db_fail (reply, request->db);
    else
    if (!text)
        s_reject (&report, 1, "", "the file is neither UTF-8 nor Shift_JIS (CP932) text");
    else
    if (s_read_file (request, text, size, &report, &rows, &count) == 0
    &&  (rc = s_match_members (request->db, rows, count)) == -1)
        svc_db_fail (reply, request->db);
    if (rc == 0 && rows && result.rows == 0)
        s_reject (&report, 1, "", "the file has a header but no rows");
    if (rc == 0 && rows && result.rows > 0) {
        qsort (rows, count, sizeof *rows, s_compare_lines);    /* written in the file's order */
        bool refused = result.n_errors > 0 && !import->partial;
        if (import->dry_run || refused) {
            for (size_t i = 0; i < count; i++)
                *(rows [i].member_id? &result.updated: &result.created) += 1;
        }
        else {
            audit_actor_t actor = audit_actor_of (request, request->envelope->now_ms? request->envelope->now_ms: clock_now_ms ());
            if (pg_begin (request->db) == -1)
                rc = svc_db_fail (reply, request->db);
            /* Members already known are updated one by one; new ones are written in bulk. */
            for (size_t i = 0; rc == 0 && i < count; i++)
                if (rows [i].member_id)
                    rc = s_write_row (request, &rows [i], &actor, reply, &result);
            if (rc == 0)
                rc = s_create_all (request, rows, count, &actor, reply, &result);
            char summary [160];
            snprintf (summary, sizeof summary, "{\"rows\": %d, \"created\": %d, \"updated\": %d, \"rejected\": %d}",
                      result.rows, result.created, result.updated, result.rejected);
            if (rc == 0
            &&  (audit_append (request->db, &actor, "member.imported", "import", "", summary) == -1
            ||   pg_commit (request->db) == -1))
                rc = svc_db_fail (reply, request->db);
            if (rc == -1)
                pg_rollback (request->db);
            result.applied = rc == 0;
        }
    }
    if (rc == 0) {
        qsort (result.errors, result.n_errors, sizeof *result.errors, s_compare_errors);
        svc_reply_with (reply, &result.base);
    }
    for (size_t i = 0; i < count; i++)
        s_row_free (&rows [i]);
    free (rows);
    for (size_t i = 0; i < result.n_errors; i++) {
        free (result.errors [i]->column);
        free (result.errors [i]->reason);
    }
    free (result.errors);
    free (report.errors);
    attribute_store_clear_ranks (&report.ranks);
    member_api_cache_attributes (request, false);
    free (text);
    protobuf_c_message_free_unpacked (&import->base, NULL);
    return rc;
}

/* --- export ------------------------------------------------------------------------------ */

static void
s_time_cell (pg_buffer_t *csv, int64_t unix_ms, int last)
{
    char stamp [40] = "";
    if (unix_ms)
        clock_format_ms (unix_ms, stamp, sizeof stamp);
    csv_buffer_field (csv, stamp, last);
}

static void
s_export_member (pg_buffer_t *csv, const Kaiin__Member__Member *member)
{
    char tags [2048] = "";
    size_t used = 0;
    for (size_t i = 0; i < member->n_tags && used < sizeof tags - 1; i++)
        used += snprintf (tags + used, sizeof tags - used, "%s%s", i? ";": "", member->tags [i]);
    const char *opt_in = !member->marketing_consent? ""
                       : member->marketing_consent->email_opt_in? "yes": "no";
    const char *cells [] = {
        member->id, member->email, member->name, member->name_kana, member->phone,
        member->birthday, member->postal_code, member->prefecture, member->address,
        member->rank, member->status, tags, member->note, opt_in, member->attributes_json
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

int
member_csv_export (svc_request_t *request, svc_reply_t *reply)
{
    const char *role = request->envelope->caller_role;
    if (strcmp (role, "owner") && strcmp (role, "admin") && strcmp (role, "marketing"))
        return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "the role '%s' may not export members", role);
    Kaiin__MemberCsv__ExportRequest *export = (Kaiin__MemberCsv__ExportRequest *)
        svc_unpack (request, &kaiin__member_csv__export_request__descriptor, reply);
    if (!export)
        return -1;
    Kaiin__Member__ListRequest filters = KAIIN__MEMBER__LIST_REQUEST__INIT;
    if (export->query)
        filters = *export->query;       /* a shallow copy: its strings stay the message's */
    filters.limit = 0;
    filters.cursor = (char *) "";
    const Kaiin__Member__ListRequest *list = &filters;
    member_api_query_t prepared;
    int rc = -1;
    if (member_api_query_prepare (request, list, &prepared, reply) == 0) {
        pg_buffer_t csv = { 0 };
        pg_buffer_append (&csv, "\xEF\xBB\xBF", 3);              /* so that Excel reads UTF-8 */
        s_export_header (&csv, export->english_headers);
        prepared.query.limit = EXPORT_PAGE;
        int more = 1, count = 0;
        rc = 0;
        while (more && rc == 0) {
            Kaiin__Member__ListReply page = KAIIN__MEMBER__LIST_REPLY__INIT;
            member_position_t last;
            if (member_store_list (request->db, &prepared.query, &page, &last, &more) != MEMBER_STORE_OK) {
                rc = svc_db_fail (reply, request->db);
                break;
            }
            for (size_t i = 0; i < page.n_members; i++)
                s_export_member (&csv, page.members [i]);
            count += page.n_members;
            member_store_clear_list (&page);
            prepared.query.after = last;
        }
        /* The record of provision APPI asks for: who exported what, when, how many. */
        json_t *details = json_pack ("{s:i, s:s, s:s, s:s, s:s}", "count", count,
            "status", list->status, "q", list->q, "rank", list->rank, "email", list->email);
        char *text = json_dumps (details, JSON_COMPACT);
        json_decref (details);
        audit_actor_t actor = audit_actor_of (request, clock_now_ms ());
        if (rc == 0 && (pg_begin (request->db) == -1
                        || audit_append (request->db, &actor, "member.exported", "export", "", text) == -1
                        || pg_commit (request->db) == -1)) {
            pg_rollback (request->db);
            rc = svc_db_fail (reply, request->db);
        }
        free (text);
        if (rc == 0) {
            Kaiin__MemberCsv__ExportReply result = KAIIN__MEMBER_CSV__EXPORT_REPLY__INIT;
            result.csv.data = (uint8_t *) csv.text;
            result.csv.len = csv.used;
            result.count = count;
            svc_reply_with (reply, &result.base);
        }
        free (csv.text);
        member_api_query_release (&prepared);
    }
    protobuf_c_message_free_unpacked (&export->base, NULL);
    return rc;
}
