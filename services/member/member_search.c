/* member_search.c - finding members: by status, email, text (name, kana, email, phone, with
   the trigram index), rank, tags, custom attributes and dates; in creation, registration or
   kana order, a page at a time, each order with its own cursor */
#include "member_search.h"
#include "attribute.h"
#include "member_check.h"
#include "member_crypt.h"
#include "member_record.h"
#include "member_text.h"
#include <assert.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX          100
#define Q_MAX_CHARS       100
#define FILTER_TAGS_MAX   20
#define FILTER_ATTRS_MAX  20

/* The filters every listing shares ($1 .. $11), then the position ($12 has one, $13 key,
   $14 seq); $17 is q's phone hash: a whole phone number matches exactly (the phone is sealed,
   not in the search text). Run with custom plans, the filters not asked for fold away and the
   rest can use their indexes. */
#define LIST_WHERE \
    " where ($1 = '' or status = $1)" \
    "   and ($2 = '' or lower (email) = lower ($2))" \
    "   and ($3 = '' or search_text like '%' || replace (replace (replace (search_norm ($3)," \
    "                   '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'" \
    "        or ($17 <> '' and phone_hash = $17))" \
    "   and ($4 = '' or rank = $4)" \
    "   and (cardinality ($5::text []) = 0" \
    "        or ($6 and (select count (*) from member_tags t" \
    "                    where t.member_seq = members.seq and t.tag = any ($5::text [])) = cardinality ($5::text []))" \
    "        or (not $6 and exists (select 1 from member_tags t" \
    "                    where t.member_seq = members.seq and t.tag = any ($5::text []))))" \
    "   and ($7 = '' or attributes @> $7::jsonb)" \
    "   and ($8::bigint = 0 or created_at >= " AT ("$8") ")" \
    "   and ($9::bigint = 0 or created_at <= " AT ("$9") ")" \
    "   and ($10::bigint = 0 or last_login_at >= " AT ("$10") ")" \
    "   and ($11::bigint = 0 or last_login_at <= " AT ("$11") ")"

#define CREATED_KEY "'epoch'::timestamptz + ($13::text)::bigint * interval '1 microsecond'"

/* Each order: its statement's name, the position condition, the order, and the same order by
   the output columns of MEMBER_COLUMNS. */
static const struct {
    const char *name;
    const char *after;
    const char *order;
    const char *outer_order;
} s_orders [] = {
    { "member_list_seq", "$13::text is not null and (not $12 or seq > $14)", "seq", "seq" },
    { "member_list_created", "(not $12 or (created_at, seq) > (" CREATED_KEY ", $14))",
      "created_at, seq", "created_us, seq" },
    { "member_list_created_desc", "(not $12 or (created_at, seq) < (" CREATED_KEY ", $14))",
      "created_at desc, seq desc", "created_us desc, seq desc" },
    { "member_list_kana", "(not $12 or (name_kana, seq) > ($13::text, $14))",
      "name_kana, seq", "name_kana, seq" },
    { "member_list_kana_desc", "(not $12 or (name_kana, seq) < ($13::text, $14))",
      "name_kana desc, seq desc", "name_kana desc, seq desc" }
};

/* Prepares each order's listing: two branches of which a custom plan keeps one ($16 says
   which). Without a selective text query, walking the order's index and stopping after a page
   is fastest. With one, the planner would walk the index too (it cannot tell how rare the
   pattern is) and filter most of the table; there the rows come from the trigram index first,
   fenced in a subquery (offset 0), and are sorted after. */
/* The keyed hash of q when it is a whole phone number as member_check takes one (10 to 15
   digits, with + - ( ) and spaces, full-width folded), else "". */
static void
s_phone_hash (const char *q, char hex [65])
{
    *hex = 0;
    char *phone = member_text_phone (q);
    int digits = 0;
    bool phone_like = phone != NULL;
    for (const char *c = phone; phone_like && *c; c++) {
        digits += isdigit ((unsigned char) *c) != 0;
        phone_like = isdigit ((unsigned char) *c) || strchr ("+-() ", *c);
    }
    if (phone_like && digits >= 10 && digits <= 15)
        member_crypt_phone_hash (phone, hex);
    free (phone);
}

void
member_search_prepare (pg_t *db)
{
    for (size_t i = 0; i < sizeof s_orders / sizeof s_orders [0]; i++) {
        char sql [8192];
        int length = snprintf (sql, sizeof sql,
            "select * from ("
            " (select %s from members %s and %s and not $16 order by %s limit $15)"
            " union all"
            " (select %s from (select * from members %s and %s and $16 offset 0) members"
            "  order by %s limit $15)) page order by %s",
            MEMBER_COLUMNS, LIST_WHERE, s_orders [i].after, s_orders [i].order,
            MEMBER_COLUMNS, LIST_WHERE, s_orders [i].after, s_orders [i].order,
            s_orders [i].outer_order);
        assert (length > 0 && (size_t) length < sizeof sql);
        pg_prepare (db, s_orders [i].name, sql);
    }
    /* The members the filters select, with the listings' parameters: those of the position
       and the page are typed in a CTE that nothing reads, so one list serves both. */
    pg_prepare (db, "member_count",
        "with unused as (select $12::bool, $13::text, $14::bigint, $15::bigint, $16::bool)"
        " select count (*) from members" LIST_WHERE);
}

/* The parameters of a listing's statements (the texts in the caller's buffers). */
typedef struct {
    char after_seq [24], fetch [24], created_from [24], created_to [24], login_from [24], login_to [24];
    const char *values [17];
} s_params_t;

static void
s_params (const member_query_t *query, s_params_t *p)
{
    const char *values [] = {
        query->status, query->email, query->q, query->rank, query->tags_array,
        query->tags_all? "t": "f", query->attributes, NUM (p->created_from, query->created_from_ms),
        NUM (p->created_to, query->created_to_ms), NUM (p->login_from, query->last_login_from_ms),
        NUM (p->login_to, query->last_login_to_ms), query->after.set? "t": "f",
        query->after.set? query->after.key: "", NUM (p->after_seq, query->after.seq),
        NUM (p->fetch, query->limit + 1),      /* one more tells whether more follow */
        query->q_selective? "t": "f", query->q_phone_hash
    };
    memcpy (p->values, values, sizeof values);
}

/* Runs statement with query's parameters on custom plans: each search is planned with its own
   values, so the filters it does not use fold away and the pattern of q can use the trigram
   index. NULL on an error. */
static PGresult *
s_run (pg_t *db, const char *statement, const member_query_t *query)
{
    s_params_t params;
    s_params (query, &params);
    if (pg_begin (db) == -1)
        return NULL;
    PGresult *result = NULL;
    if (pg_exec (db, "set local plan_cache_mode = force_custom_plan") == -1
    ||  !(result = pg_run (db, statement, 17, params.values))
    ||  pg_commit (db) == -1) {
        PQclear (result);
        pg_rollback (db);
        return NULL;
    }
    return result;
}

member_rc_t
member_search_count (pg_t *db, const member_query_t *query, int64_t *count)
{
    PGresult *result = s_run (db, "member_count", query);
    if (!result)
        return MEMBER_ERROR;
    *count = strtoll (PQgetvalue (result, 0, 0), NULL, 10);
    PQclear (result);
    return MEMBER_OK;
}

member_rc_t
member_search_page (pg_t *db, const member_query_t *query, Kaiin__Member__ListReply **page,
                    member_position_t *last, int *more)
{
    PGresult *result = s_run (db, s_orders [query->sort].name, query);
    if (!result)
        return MEMBER_ERROR;
    int rows = PQntuples (result);
    *more = rows > query->limit;
    if (*more)
        rows = query->limit;
    *page = (Kaiin__Member__ListReply *) member_message_new (&kaiin__member__list_reply__descriptor);
    for (int row = 0; row < rows; row++)
        pg_row_append ((void ***) &(*page)->members, &(*page)->n_members,
                       member_record_of_row (result, row));
    memset (last, 0, sizeof *last);
    if (rows > 0) {
        bool by_kana = query->sort == MEMBER_SORT_KANA || query->sort == MEMBER_SORT_KANA_DESC;
        last->set = true;
        last->seq = member_seq (result, rows - 1);
        snprintf (last->key, sizeof last->key, "%s",
                  by_kana? (*page)->members [rows - 1]->name_kana
                         : PQgetvalue (result, rows - 1, PQfnumber (result, "created_us")));
    }
    PQclear (result);
    return MEMBER_OK;
}

/* --- cursors ------------------------------------------------------------------------------- */

/* Each sort's cursor starts with its own letter, so that a cursor of one order is refused in
   another; then the sort key (decimal microseconds, or the kana in hex), ".", and seq in hex. */
static const char s_sort_letters [] = { 'm', 'a', 'd', 'k', 'j' };

static int
s_hex_value (char c)
{
    return isdigit ((unsigned char) c)? c - '0': (c | 0x20) - 'a' + 10;
}

static int
s_position_decode (const char *cursor, member_sort_t sort, member_position_t *position)
{
    memset (position, 0, sizeof *position);
    if (!*cursor)
        return 0;
    if (sort == MEMBER_SORT_SEQ) {
        if (member_cursor_decode (cursor, &position->seq) == -1)
            return -1;
        position->set = true;
        return 0;
    }
    /* The seq part follows the "m" cursor's rules. */
    const char *dot = strrchr (cursor, '.');
    char seq_text [24];
    if (cursor [0] != s_sort_letters [sort] || !dot || strlen (dot + 1) > 16)
        return -1;
    snprintf (seq_text, sizeof seq_text, "m%s", dot + 1);
    if (member_cursor_decode (seq_text, &position->seq) == -1)
        return -1;
    const char *key = cursor + 1;
    size_t key_length = dot - key;
    if (sort == MEMBER_SORT_CREATED || sort == MEMBER_SORT_CREATED_DESC) {
        if (key_length < 1 || key_length > 18)
            return -1;
        for (size_t i = 0; i < key_length; i++)
            if (!isdigit ((unsigned char) key [i]))
                return -1;
        memcpy (position->key, key, key_length);
        position->key [key_length] = 0;
    }
    else {
        if (key_length % 2 || key_length / 2 >= sizeof position->key)
            return -1;
        for (size_t i = 0; i < key_length; i += 2) {
            if (!isxdigit ((unsigned char) key [i]) || !isxdigit ((unsigned char) key [i + 1]))
                return -1;
            position->key [i / 2] = (char) (s_hex_value (key [i]) * 16 + s_hex_value (key [i + 1]));
        }
        position->key [key_length / 2] = 0;
        if (strlen (position->key) != key_length / 2 || member_text_length (position->key, false) < 0)
            return -1;
    }
    position->set = true;
    return 0;
}

void
member_search_cursor (const member_position_t *position, member_sort_t sort, char *cursor, size_t size)
{
    if (sort == MEMBER_SORT_SEQ) {
        snprintf (cursor, size, "m%llx", (unsigned long long) position->seq);
        return;
    }
    size_t used = 0;
    cursor [used++] = s_sort_letters [sort];
    if (sort == MEMBER_SORT_CREATED || sort == MEMBER_SORT_CREATED_DESC)
        used += snprintf (cursor + used, size - used, "%s", position->key);
    else
        for (const unsigned char *c = (const unsigned char *) position->key; *c && used + 3 < size; c++)
            used += snprintf (cursor + used, size - used, "%02x", *c);
    snprintf (cursor + used, size - used, ".%llx", (unsigned long long) position->seq);
}

/* --- the query --------------------------------------------------------------------------- */

/* Builds a PostgreSQL array literal of tags into a new string. */
static char *
s_tags_array (char *const *tags, size_t count)
{
    size_t size = 3;
    for (size_t i = 0; i < count; i++)
        size += 2 * strlen (tags [i]) + 3;
    char *array = malloc (size), *out = array;
    assert (array);
    *out++ = '{';
    for (size_t i = 0; i < count; i++) {
        if (i)
            *out++ = ',';
        *out++ = '"';
        for (const char *c = tags [i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                *out++ = '\\';
            *out++ = *c;
        }
        *out++ = '"';
    }
    *out++ = '}';
    *out = 0;
    return array;
}

static int
s_sort_of (const char *sort, member_sort_t *value)
{
    static const char *const names [] = { "", "created_at", "-created_at", "name_kana", "-name_kana" };
    for (int i = 0; i < 5; i++)
        if (strcmp (sort, names [i]) == 0) {
            *value = (member_sort_t) i;
            return 0;
        }
    return -1;
}

int
member_search_query (svc_request_t *request, const Kaiin__Member__ListRequest *list,
                     member_search_t *prepared, svc_reply_t *reply)
{
    memset (prepared, 0, sizeof *prepared);
    member_query_t *query = &prepared->query;
    *query = (member_query_t) { .limit = list->limit? list->limit: 20, .status = list->status,
                                .email = list->email, .q = list->q, .rank = list->rank,
                                .tags_all = strcmp (list->tags_mode, "all") == 0,
                                .attributes = "",
                                .created_from_ms = list->created_from_ms,
                                .created_to_ms = list->created_to_ms,
                                .last_login_from_ms = list->last_login_from_ms,
                                .last_login_to_ms = list->last_login_to_ms };
    if (!member_record_masks_phone (request))
        s_phone_hash (list->q, query->q_phone_hash);
    if (query->limit < 1 || query->limit > LIST_MAX)
        svc_field_error (reply, "limit", "must be from 1 to %d", LIST_MAX);
    if (s_sort_of (list->sort, &query->sort) == -1)
        svc_field_error (reply, "sort", "must be one of created_at, -created_at, name_kana, -name_kana");
    else
    if (s_position_decode (list->cursor, query->sort, &query->after) == -1)
        svc_field_error (reply, "cursor", "is not a cursor this API returned for this sort");
    if (*list->status && strcmp (list->status, "free") && strcmp (list->status, "paid")
    &&  strcmp (list->status, "withdrawn"))
        svc_field_error (reply, "status", "must be one of free, paid, withdrawn");
    long q_length = member_text_length (list->q, false);
    long q_spaces = 0;
    for (const char *c = list->q; *c; c++)
        q_spaces += *c == ' ';
    /* Three characters make a trigram; shorter, walking the order's index finds a page soon
       in creation order, but in another order it may walk most of the table first. */
    query->q_selective = q_length - q_spaces >= 3 || (q_length - q_spaces > 0 && *list->sort);
    if (q_length < 0 || q_length > Q_MAX_CHARS)
        svc_field_error (reply, "q", "must be at most %d characters without control characters", Q_MAX_CHARS);
    if (member_text_length (list->rank, false) < 0 || strlen (list->rank) > 32)
        svc_field_error (reply, "rank", "is not a rank code");
    if (*list->tags_mode && strcmp (list->tags_mode, "any") && strcmp (list->tags_mode, "all"))
        svc_field_error (reply, "tags_mode", "must be any or all");
    member_check_tags (reply, "tag", list->tags, list->n_tags, FILTER_TAGS_MAX);
    if (list->n_attributes > FILTER_ATTRS_MAX) {
        char field [80];
        snprintf (field, sizeof field, "attr.%.60s", list->attributes [FILTER_ATTRS_MAX]->key);
        svc_field_error (reply, field, "at most %d attribute filters", FILTER_ATTRS_MAX);
    }
    if (list->n_attributes && reply->status == KAIIN__STATUS__OK) {
        Kaiin__Member__AttributeListReply *definitions = attribute_definitions (request->db);
        if (!definitions)
            svc_db_fail (reply, request->db);
        else {
            prepared->attributes = attribute_filter (reply, definitions, list->attributes,
                                                     list->n_attributes);
            protobuf_c_message_free_unpacked (&definitions->base, NULL);
        }
        if (prepared->attributes)
            query->attributes = prepared->attributes;
    }
    if (reply->status != KAIIN__STATUS__OK) {
        member_search_release (prepared);
        return -1;
    }
    prepared->tags = s_tags_array (list->tags, list->n_tags);
    query->tags_array = prepared->tags;
    return 0;
}

void
member_search_release (member_search_t *prepared)
{
    free (prepared->attributes);
    free (prepared->tags);
    prepared->attributes = prepared->tags = NULL;
}

int
member_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__ListRequest *list = (Kaiin__Member__ListRequest *)
        svc_unpack (request, &kaiin__member__list_request__descriptor, reply);
    if (!list)
        return -1;
    int rc = -1;
    member_search_t prepared;
    if (member_search_query (request, list, &prepared, reply) == 0) {
        Kaiin__Member__ListReply *page;
        member_position_t last;
        int more;
        char cursor [700] = "";
        if (member_search_page (request->db, &prepared.query, &page, &last, &more) == MEMBER_OK) {
            if (more)
                member_search_cursor (&last, prepared.query.sort, cursor, sizeof cursor);
            page->next_cursor = strdup (cursor);
            for (size_t i = 0; i < page->n_members; i++)
                member_record_mask (request, page->members [i]);
            rc = svc_reply_with (reply, &page->base);
            protobuf_c_message_free_unpacked (&page->base, NULL);
        }
        else
            rc = svc_db_fail (reply, request->db);
        member_search_release (&prepared);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}
