/* member_import.c - members in from a CSV file, the way Japanese businesses keep them in
   Excel: Japanese or English headers, UTF-8 or Shift_JIS, every row checked as member.Create
   would, then all written in one transaction (or the good ones, partial) */
#include "member_import.h"
#include "attribute.h"
#include "csv.h"
#include "member_bulk.h"
#include "member_check.h"
#include "member_csv.h"
#include "member_csv.pb-c.h"
#include "member_record.h"
#include "member_tag.h"
#include "messages.h"
#include <assert.h>
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ERRORS   1000

/* One data row kept for writing. Strings are owned. */
typedef struct {
    int line;
    char *cells [COL_COUNT];        /* NULL where the file has no such column */
    char *email_key;                /* lower-cased email, for matching */
    char *member_id;                /* the existing member with this email, if any */
} row_t;

typedef struct {
    Kaiin__MemberCsv__ImportReply *reply;
    const char *headers [COL_COUNT];    /* each column's header as the file writes it */
    char header_text [COL_COUNT][128];
    Kaiin__Member__RankListReply *ranks;    /* the ranks defined, to check the rank column */
    bool japanese;                          /* reasons in Japanese (the caller's language) */
} report_t;

static bool
s_rank_known (const report_t *report, const char *code)
{
    for (size_t i = 0; i < report->ranks->n_ranks; i++)
        if (strcmp (report->ranks->ranks [i]->code, code) == 0)
            return true;
    return false;
}

/* Reports a rejected row: its line, the file's own header of the column ("" for the whole
   row), the code a client matches on (NULL: "invalid", as a field error without one) and the reason, already written in
   the caller's language. */
static void
s_reject_coded (report_t *report, int line, const char *column, const char *code, const char *reason)
{
    Kaiin__MemberCsv__ImportReply *reply = report->reply;
    if (reply->n_errors == MAX_ERRORS)
        return;
    Kaiin__MemberCsv__RowError *error = malloc (sizeof *error);
    assert (error);
    kaiin__member_csv__row_error__init (error);
    error->row = line;
    error->column = strdup (column);
    error->code = strdup (code? code: "invalid");
    error->reason = strdup (reason);
    reply->errors [reply->n_errors++] = error;
}

/* As s_reject_coded with the reason fmt (common/messages.h) says, and fmt's code. */
static void
s_reject (report_t *report, int line, const char *column, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_reject (report_t *report, int line, const char *column, const char *fmt, ...)
{
    char reason [256];
    va_list args;
    va_start (args, fmt);
    vsnprintf (reason, sizeof reason, messages_say (report->japanese, fmt), args);
    va_end (args);
    s_reject_coded (report, line, column, messages_code (fmt), reason);
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
s_cell (const row_t *row, member_csv_column_t column)
{
    return row->cells [column]? row->cells [column]: "";
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
        consent->email_opt_in = member_csv_yes_no (s_cell (row, COL_OPT_IN)) == 1;
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
    if (row->cells [COL_OPT_IN] && *row->cells [COL_OPT_IN] && member_csv_yes_no (row->cells [COL_OPT_IN]) < 0) {
        s_reject (report, row->line, report->headers [COL_OPT_IN], "must be yes or no (はい/いいえ, 1/0)");
        ok = false;
    }
    if (row->cells [COL_TAGS] && *row->cells [COL_TAGS]) {
        char *copy = strdup (row->cells [COL_TAGS]), *tags [101];
        size_t count = member_csv_split_tags (copy, tags, 101);
        for (size_t i = 0; i < count && ok; i++) {
            long length = member_check_text_length (tags [i]);
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
    /* The check writes its normal forms (member_check.h) into the row's own cells. */
    Kaiin__Member__CreateRequest create;
    Kaiin__Member__Consent consent;
    s_create_of (row, &create, &consent, 0);
    svc_reply_t reply = { .status = KAIIN__STATUS__OK, .japanese = report->japanese };
    int checked = member_check_create (request, &create, &reply);
    row->cells [COL_NAME_KANA] = row->cells [COL_NAME_KANA]? create.name_kana: NULL;
    row->cells [COL_PHONE] = row->cells [COL_PHONE]? create.phone: NULL;
    row->cells [COL_BIRTHDAY] = row->cells [COL_BIRTHDAY]? create.birthday: NULL;
    row->cells [COL_POSTAL_CODE] = row->cells [COL_POSTAL_CODE]? create.postal_code: NULL;
    row->cells [COL_PREFECTURE] = row->cells [COL_PREFECTURE]? create.prefecture: NULL;
    if (checked == -1) {
        for (size_t i = 0; i < reply.error_count; i++) {
            int column = member_csv_column_of (reply.errors [i].field);
            s_reject_coded (report, row->line, column >= 0 && report->headers [column]
                            ? report->headers [column]: reply.errors [i].field, reply.errors [i].code,
                            reply.errors [i].reason);
        }
        if (reply.error_count == 0)
            s_reject_coded (report, row->line, "", reply.code, reply.message);
        ok = false;
    }
    else
    if (*create.rank && !s_rank_known (report, create.rank)) {
        s_reject (report, row->line, report->headers [COL_RANK], "is not a rank defined in Kaiin");
        ok = false;
    }
    free (reply.payload);
    return ok;
}

static int
s_compare_keys (const void *a, const void *b)
{
    return strcmp (((const row_t *) a)->email_key, ((const row_t *) b)->email_key);
}

static bool
s_has_tag (char *const *tags, size_t count, const char *tag)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp (tags [i], tag) == 0)
            return true;
    return false;
}

/* True when the row's cell of column is given and differs from the record's value. */
static bool
s_differs (const row_t *row, member_csv_column_t column, const char *value)
{
    return *s_cell (row, column) && strcmp (s_cell (row, column), value? value: "") != 0;
}

/* Brings the member a row matched up to the row: the file's non-empty cells that differ from
   the record, and with a tags column the file's tags (added, and unless tags_mode is "add"
   the others removed). A row that changes nothing writes nothing (no event, no audit entry)
   and counts as unchanged; a dry run only counts. Returns 0, or -1 with the reply failed. */
static int
s_update_row (svc_request_t *request, const row_t *row, const audit_actor_t *actor, bool add_tags_only,
              bool dry_run, svc_reply_t *reply, Kaiin__MemberCsv__ImportReply *report)
{
    pg_t *db = request->db;
    Kaiin__Member__Member *before = NULL, *member = NULL;
    member_rc_t rc = dry_run? member_record_get (db, row->member_id, &before)
                            : member_record_lock (db, row->member_id, &before, NULL);
    if (rc != MEMBER_OK)
        goto done;
    Kaiin__Member__CreateRequest create;
    Kaiin__Member__Consent consent;
    s_create_of (row, &create, &consent, actor->now_ms);
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
    const struct { member_csv_column_t column; const char *field; const char *value; } fields [] = {
        { COL_NAME, "name", before->name }, { COL_NAME_KANA, "name_kana", before->name_kana },
        { COL_PHONE, "phone", before->phone }, { COL_BIRTHDAY, "birthday", before->birthday },
        { COL_POSTAL_CODE, "postal_code", before->postal_code },
        { COL_PREFECTURE, "prefecture", before->prefecture }, { COL_ADDRESS, "address", before->address },
        { COL_RANK, "rank", before->rank }, { COL_NOTE, "note", before->note }
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields [0]; i++)
        if (s_differs (row, fields [i].column, fields [i].value))
            mask [update.n_update_mask++] = (char *) fields [i].field;
    if (create.marketing_consent && (!before->marketing_consent
                                     || before->marketing_consent->email_opt_in != consent.email_opt_in))
        mask [update.n_update_mask++] = "marketing_consent";
    update.update_mask = mask;
    /* The tags: the file's, each once; those the member lacks added, the others removed. */
    char *copy = strdup (s_cell (row, COL_TAGS)), *file_tags [100], *add [100];
    char **remove = calloc (before->n_tags + 1, sizeof *remove);
    assert (copy && remove);
    size_t file_count = row->cells [COL_TAGS]? member_csv_split_tags (copy, file_tags, 100): 0;
    Kaiin__Member__TagRequest tag = KAIIN__MEMBER__TAG_REQUEST__INIT;
    tag.id = row->member_id;
    tag.add = add;
    tag.remove = remove;
    for (size_t i = 0; i < file_count; i++)
        if (!s_has_tag (before->tags, before->n_tags, file_tags [i]) && !s_has_tag (add, tag.n_add, file_tags [i]))
            add [tag.n_add++] = file_tags [i];
    for (size_t i = 0; row->cells [COL_TAGS] && !add_tags_only && i < before->n_tags; i++)
        if (!s_has_tag (file_tags, file_count, before->tags [i]))
            remove [tag.n_remove++] = before->tags [i];
    bool changes = update.n_update_mask || tag.n_add || tag.n_remove;
    *(changes? &report->updated: &report->unchanged) += 1;
    if (!dry_run && update.n_update_mask) {
        rc = member_record_update (db, &update, actor, &member);
        if (rc == MEMBER_OK)
            protobuf_c_message_free_unpacked (&member->base, NULL);
    }
    if (!dry_run && rc == MEMBER_OK && (tag.n_add || tag.n_remove)) {
        rc = member_tag_change (db, &tag, actor, &member);
        if (rc == MEMBER_OK)
            protobuf_c_message_free_unpacked (&member->base, NULL);
    }
    free (remove);
    free (copy);
done:
    if (before)
        protobuf_c_message_free_unpacked (&before->base, NULL);
    if (rc == MEMBER_OK)
        return 0;
    if (rc == MEMBER_ERROR)
        return svc_db_fail (reply, db);
    if (rc == MEMBER_NOT_FOUND)
        return svc_fail (reply, KAIIN__STATUS__ABORTED, "row %d: its member was removed meanwhile", row->line);
    return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION, "row %d could not be written (%d)",
                     row->line, rc);
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
    char *id = malloc (37);
    assert (id);
    if (member_uuid_new (id) == -1)
        memset (id, 0, 37);
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
    size_t count = member_csv_split_tags (*tags_copy, tags, 100);
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
    const audit_actor_t **actors = calloc (fresh, sizeof *actors);
    assert (members && list && consents && copies && tags && actors);
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        if (!rows [i].member_id) {
            s_member_of (&rows [i], actor, &members [n], &consents [n], &copies [n], tags [n]);
            list [n] = &members [n];
            actors [n++] = actor;
        }
    member_rc_t rc = member_bulk_insert (request->db, list, n, actors);
    for (size_t i = 0; i < n; i++) {
        free (members [i].id);
        free (copies [i]);
    }
    free (members);
    free (list);
    free (consents);
    free (copies);
    free (tags);
    free (actors);
    if (rc == MEMBER_OK) {
        report->created += (int32_t) n;
        return 0;
    }
    if (rc == MEMBER_DUPLICATE)
        return svc_fail (reply, KAIIN__STATUS__ABORTED, "another member took one of these emails meanwhile");
    if (rc == MEMBER_NO_RANK)
        return svc_fail (reply, KAIIN__STATUS__ABORTED, "a rank was removed meanwhile");
    return svc_db_fail (reply, request->db);
}

/* Reads the header record into columns (each a member_csv_column_t, COL_IGNORED or < 0) and
   report's headers. Returns the header's number of fields, or -1 when the file cannot be
   imported: report says why, on row 1. */
static int
s_read_header (csv_reader_t *reader, report_t *report, int columns [256])
{
    char **fields;
    int line, count = csv_reader_next (reader, &fields, &line);
    int column_count = count > 0? count: 0;
    if (count <= 0) {
        if (count == 0)
            s_reject (report, 1, "", "the file is empty");
        else
            s_reject (report, 1, "", "a quoted field is never closed");
        return -1;
    }
    for (int i = 0; i < column_count && i < 256; i++) {
        columns [i] = member_csv_column_of (fields [i]);
        if (columns [i] == COL_IGNORED)
            continue;
        if (columns [i] < 0) {
            s_reject (report, 1, fields [i], "is not a column Kaiin knows (%s)", fields [i]);
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
    return report->reply->n_errors? -1: column_count;
}

/* Reads the records left in reader, numbered on from report->reply->rows: the rows that pass
   the checks into *rows_p (*count_p of them; the caller frees them), the others into report. */
static void
s_read_rows (svc_request_t *request, csv_reader_t *reader, const int *columns, int column_count,
             report_t *report, row_t **rows_p, size_t *count_p)
{
    char **fields;
    int line, count;
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
            s_reject (report, line, "", "has %d fields where the header has %d", count, column_count);
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
            csv_unguard (cell);                 /* the ' an export put before =, +, -, @ */
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
    *rows_p = rows;
    *count_p = kept;
}

/* One email twice among rows: the later rows are refused. Leaves rows sorted by email. */
static void
s_drop_repeats (report_t *report, row_t *rows, size_t *count_p)
{
    size_t kept = *count_p;
    qsort (rows, kept, sizeof *rows, s_compare_keys);
    size_t unique = 0;
    for (size_t i = 0; i < kept; i++) {
        if (unique && strcmp (rows [unique - 1].email_key, rows [i].email_key) == 0) {
            bool later = rows [i].line > rows [unique - 1].line;
            row_t *dropped = later? &rows [i]: &rows [unique - 1];
            s_reject (report, dropped->line, report->headers [COL_EMAIL], "repeats the email of row %d",
                      later? rows [unique - 1].line: rows [i].line);
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
    *count_p = unique;
}

/* Reads the header and every row of text into rows (kept ones) and report (rejected ones). */
static int
s_read_file (svc_request_t *request, const char *text, size_t size, report_t *report,
             row_t **rows_p, size_t *count_p)
{
    csv_reader_t *reader = csv_reader_new (text, size);
    int columns [256];
    int column_count = s_read_header (reader, report, columns);
    if (column_count >= 0) {
        s_read_rows (request, reader, columns, column_count, report, rows_p, count_p);
        s_drop_repeats (report, *rows_p, count_p);
    }
    csv_reader_destroy (&reader);
    return column_count >= 0? 0: -1;
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
    PGresult *result = member_bulk_ids_by_email (db, emails);
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

/* Writes rows (sorted by line) in the caller's transaction: members already known updated one
   by one, new ones in bulk. Returns 0, or -1 with the reply failed. */
static int
s_write_rows (svc_request_t *request, row_t *rows, size_t count, const audit_actor_t *actor,
              bool add_tags_only, svc_reply_t *reply, Kaiin__MemberCsv__ImportReply *result)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++)
        if (rows [i].member_id)
            rc = s_update_row (request, &rows [i], actor, add_tags_only, false, reply, result);
    if (rc == 0)
        rc = s_create_all (request, rows, count, actor, reply, result);
    return rc;
}

/* Starts a report on result (its errors allocated for MAX_ERRORS) and reads the ranks and the
   custom attributes' definitions once for the rows' checks. Returns 0, or -1 with the reply
   failed; either way s_report_end ends it. */
static int
s_report_start (svc_request_t *request, Kaiin__MemberCsv__ImportReply *result, svc_reply_t *reply,
                report_t *report)
{
    *report = (report_t) { .reply = result, .ranks = attribute_ranks (request->db),
                           .japanese = reply->japanese };
    result->errors = calloc (MAX_ERRORS, sizeof *result->errors);
    assert (result->errors);
    if (!report->ranks
    ||  member_check_cache_attributes (request, true) == -1)
        return svc_db_fail (reply, request->db);
    return 0;
}

static void
s_report_end (svc_request_t *request, report_t *report)
{
    if (report->ranks)
        protobuf_c_message_free_unpacked (&report->ranks->base, NULL);
    report->ranks = NULL;
    member_check_cache_attributes (request, false);
}

static void
s_rows_free (row_t *rows, size_t count)
{
    for (size_t i = 0; i < count; i++)
        s_row_free (&rows [i]);
    free (rows);
}

void
member_import_errors_free (Kaiin__MemberCsv__ImportReply *result)
{
    for (size_t i = 0; i < result->n_errors; i++) {
        free (result->errors [i]->column);
        free (result->errors [i]->code);
        free (result->errors [i]->reason);
        free (result->errors [i]);
    }
    free (result->errors);
    result->errors = NULL;
    result->n_errors = 0;
}

int
member_api_import (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__MemberCsv__ImportRequest *import = (Kaiin__MemberCsv__ImportRequest *)
        svc_unpack (request, &kaiin__member_csv__import_request__descriptor, reply);
    if (!import)
        return -1;
    Kaiin__MemberCsv__ImportReply result = KAIIN__MEMBER_CSV__IMPORT_REPLY__INIT;
    report_t report;
    int rc = s_report_start (request, &result, reply, &report);
    size_t size;
    const char *charset = "";
    char *text = csv_to_utf8 ((const char *) import->csv.data, import->csv.len, &size, &charset);
    result.charset = (char *) charset;
    row_t *rows = NULL;
    size_t count = 0;
    if (rc == 0 && !text)
        s_reject (&report, 1, "", "the file is neither UTF-8 nor Shift_JIS (CP932) text");
    else
    if (rc == 0
    &&  s_read_file (request, text, size, &report, &rows, &count) == 0
    &&  (rc = s_match_members (request->db, rows, count)) == -1)
        svc_db_fail (reply, request->db);
    if (rc == 0 && rows && result.rows == 0)
        s_reject (&report, 1, "", "the file has a header but no rows");
    if (rc == 0 && rows && result.rows > 0) {
        qsort (rows, count, sizeof *rows, s_compare_lines);    /* written in the file's order */
        bool refused = result.n_errors > 0 && !import->partial && strcmp (import->mode, "partial");
        bool add_tags_only = strcmp (import->tags_mode, "add") == 0;
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        if (import->dry_run || refused) {
            for (size_t i = 0; rc == 0 && i < count; i++)
                if (rows [i].member_id)
                    rc = s_update_row (request, &rows [i], &actor, add_tags_only, true, reply, &result);
                else
                    result.created++;
        }
        else {
            if (pg_begin (request->db) == -1)
                rc = svc_db_fail (reply, request->db);
            if (rc == 0)
                rc = s_write_rows (request, rows, count, &actor, add_tags_only, reply, &result);
            /* A file that changed nothing (an export imported again) leaves no trace either. */
            if (rc == 0
            &&  (member_import_audit (request->db, &actor, &result, NULL) == -1
            ||   pg_commit (request->db) == -1))
                rc = svc_db_fail (reply, request->db);
            if (rc == -1)
                pg_rollback (request->db);
            result.applied = rc == 0;
        }
    }
    if (rc == 0) {
        qsort (result.errors, result.n_errors, sizeof *result.errors, s_compare_errors);
        result.dry_run = import->dry_run;
        svc_reply_with (reply, &result.base);
        /* Refused as a whole (all-or-nothing met a bad row, or the file itself is wrong). */
        if (!result.applied && !import->dry_run && result.n_errors > 0) {
            reply->http_status = 422;
            reply->problem_type = "/problems/import-refused";
            reply->problem_title = messages_say (reply->japanese, "The import was refused");
            snprintf (reply->message, sizeof reply->message, "%s", messages_say (reply->japanese,
                      "rows were rejected, so nothing was imported (mode=partial imports the others)"));
        }
    }
    s_rows_free (rows, count);
    member_import_errors_free (&result);
    s_report_end (request, &report);
    free (text);
    protobuf_c_message_free_unpacked (&import->base, NULL);
    return rc;
}

int
member_import_audit (pg_t *db, const audit_actor_t *actor, const Kaiin__MemberCsv__ImportReply *result,
                     const char *job_id)
{
    if (!result->created && !result->updated)
        return 0;
    char summary [256];
    snprintf (summary, sizeof summary, "{\"rows\": %d, \"created\": %d, \"updated\": %d, "
              "\"unchanged\": %d, \"rejected\": %d%s%s%s}",
              result->rows, result->created, result->updated, result->unchanged, result->rejected,
              job_id? ", \"job_id\": \"": "", job_id? job_id: "", job_id? "\"": "");
    return audit_append (db, actor, "member.imported", "import", "", summary);
}

int
member_import_header (const char *text, size_t size, bool japanese, bool rows, svc_reply_t *reply)
{
    Kaiin__MemberCsv__ImportReply result = KAIIN__MEMBER_CSV__IMPORT_REPLY__INIT;
    report_t report = { .reply = &result, .japanese = japanese };
    result.errors = calloc (MAX_ERRORS, sizeof *result.errors);
    assert (result.errors);
    csv_reader_t *reader = csv_reader_new (text, size);
    int columns [256];
    int rc = s_read_header (reader, &report, columns);
    if (rc >= 0) {
        char **fields;
        int line;
        rc = (int) csv_reader_offset (reader);
        if (rows && csv_reader_next (reader, &fields, &line) == 0)
            s_reject (&report, 1, "", "the file has a header but no rows");
    }
    for (size_t i = 0; i < result.n_errors; i++)
        svc_field_error (reply, "csv", "%s%s%s", result.errors [i]->column,
                         *result.errors [i]->column? ": ": "", result.errors [i]->reason);
    if (result.n_errors)
        rc = svc_fail (reply, KAIIN__STATUS__INVALID_ARGUMENT, "%s",
                       messages_say (japanese, "the file cannot be imported"));
    csv_reader_destroy (&reader);
    member_import_errors_free (&result);
    return rc;
}

int
member_import_batch (svc_request_t *request, const char *header, const char *text, size_t size,
                     bool add_tags_only, member_import_seen_fn *seen, void *seen_arg,
                     Kaiin__MemberCsv__ImportReply *result, svc_reply_t *reply)
{
    report_t report;
    int rc = s_report_start (request, result, reply, &report);
    row_t *rows = NULL;
    size_t count = 0;
    if (rc == 0) {
        csv_reader_t *reader = csv_reader_new (header, strlen (header));
        int columns [256], column_count = s_read_header (reader, &report, columns);
        csv_reader_destroy (&reader);
        assert (column_count > 0);          /* checked when the job was made */
        reader = csv_reader_new (text, size);
        s_read_rows (request, reader, columns, column_count, &report, &rows, &count);
        csv_reader_destroy (&reader);
        s_drop_repeats (&report, rows, &count);
    }
    /* An email met in an earlier batch: this row repeats it. */
    const char **keys = calloc (count + 1, sizeof *keys);
    int *lines = calloc (count + 1, sizeof *lines), *earlier = calloc (count + 1, sizeof *earlier);
    assert (keys && lines && earlier);
    for (size_t i = 0; i < count; i++) {
        keys [i] = rows [i].email_key;
        lines [i] = rows [i].line;
    }
    if (rc == 0 && count && seen (seen_arg, keys, lines, count, earlier) == -1)
        rc = svc_db_fail (reply, request->db);
    size_t kept = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (earlier [i] && earlier [i] != rows [i].line) {
            s_reject (&report, rows [i].line, report.headers [COL_EMAIL], "repeats the email of row %d",
                      earlier [i]);
            result->rejected++;
            s_row_free (&rows [i]);
        }
        else
            rows [kept++] = rows [i];
    }
    if (rc == 0)
        count = kept;
    free (keys);
    free (lines);
    free (earlier);
    if (rc == 0 && s_match_members (request->db, rows, count) == -1)
        rc = svc_db_fail (reply, request->db);
    if (rc == 0) {
        qsort (rows, count, sizeof *rows, s_compare_lines);
        qsort (result->errors, result->n_errors, sizeof *result->errors, s_compare_errors);
        audit_actor_t actor = audit_actor_of (request, member_now (request));
        rc = s_write_rows (request, rows, count, &actor, add_tags_only, reply, result);
    }
    s_rows_free (rows, count);
    s_report_end (request, &report);
    return rc;
}
