/* filter.c - segments' filters: a JSON tree of and, or, not and conditions (field, op, value),
   checked, then compiled into a parameterised SQL condition over messaging's projection */
#include "filter.h"
#include "clock.h"
#include "messages.h"
#include "pg.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define DAYS_MAX 36500
#define STRING_MAX_CHARS 200
#define PATH_MAX_CHARS PB_JSON_FIELD_MAX

typedef enum { TEXT, TAGS, ATTRIBUTE, PLAN, TIME, NUMBER, BOOL } s_type_t;

/* What segments filter on, and the SQL each is over members m and member_facts f. */
static const struct {
    const char *name;                 /* "attributes." is followed by the attribute's key */
    s_type_t type;
    const char *column;
    const char *one_of;               /* the values allowed, if limited */
} s_fields [] = {
    { "status",            TEXT,      "m.status", "free paid withdrawn" },
    { "rank",              TEXT,      "m.rank", NULL },
    { "tags",              TAGS,      "m.tags", NULL },
    { "attributes.",       ATTRIBUTE, "m.attributes", NULL },
    { "plan",              PLAN,      "select 1 from member_plans p where p.member_id = m.id"
                                      " and p.status in ('trialing', 'active', 'past_due')", NULL },
    { "signed_up_at",      TIME,      "m.created_at_ms", NULL },
    { "last_login_at",     TIME,      "m.last_login_at_ms", NULL },
    { "purchase_count",    NUMBER,    "coalesce (f.purchase_count, 0)", NULL },
    { "purchase_total",    NUMBER,    "coalesce (f.purchase_total, 0)", NULL },
    { "churn_risk",        NUMBER,    "coalesce (f.churn_risk, 0)", NULL },
    { "loyalty_segment",   TEXT,      "coalesce (f.loyalty_segment, 'none')",
                                      "champions loyal regular new at_risk dormant none" },
    { "marketing_consent", BOOL,      "m.marketing", NULL },
    { NULL }
};

/* The value an operator takes. */
typedef enum {
    V_STRING,                         /* a string */
    V_STRINGS,                        /* an array of strings */
    V_SCALAR,                         /* a string, number or boolean, as JSON */
    V_SCALARS,                        /* an array of those */
    V_ORDERED,                        /* a number, or a string compared as text (a date) */
    V_INTEGER,
    V_TIME,                           /* an RFC 3339 time, as Unix milliseconds */
    V_DAYS,                           /* 0..DAYS_MAX days, as the time that many days before now */
    V_BOOL                            /* true: the condition; false: its negation */
} s_value_t;

/* Each type's operators. In sql, %c is the field's column, %k the attribute's key, %v the value
   and %l the values as an array (text, but jsonb for V_SCALAR and V_SCALARS); sql_text is
   V_ORDERED's for a string. */
static const struct {
    s_type_t type;
    const char *op;
    s_value_t value;
    const char *sql, *sql_text;
} s_ops [] = {
    { TEXT,      "eq",              V_STRING,  "%c = %v" },
    { TEXT,      "ne",              V_STRING,  "%c <> %v" },
    { TEXT,      "in",              V_STRINGS, "%c = any (%l)" },
    { TEXT,      "not_in",          V_STRINGS, "%c <> all (%l)" },
    { TAGS,      "has",             V_STRING,  "%c @> array[%v]" },
    { TAGS,      "has_any",         V_STRINGS, "%c && %l" },
    { TAGS,      "has_all",         V_STRINGS, "%c @> %l" },
    { ATTRIBUTE, "eq",              V_SCALAR,  "%c -> %k = %v" },
    { ATTRIBUTE, "ne",              V_SCALAR,  "(%c -> %k) is distinct from %v" },
    { ATTRIBUTE, "in",              V_SCALARS, "%c -> %k = any (%l)" },
    { ATTRIBUTE, "gt",              V_ORDERED, "case when jsonb_typeof (%c -> %k) = 'number' then (%c ->> %k)::numeric end > (%v)::numeric",
                                               "case when jsonb_typeof (%c -> %k) = 'string' then %c ->> %k end collate \"C\" > %v" },
    { ATTRIBUTE, "gte",             V_ORDERED, "case when jsonb_typeof (%c -> %k) = 'number' then (%c ->> %k)::numeric end >= (%v)::numeric",
                                               "case when jsonb_typeof (%c -> %k) = 'string' then %c ->> %k end collate \"C\" >= %v" },
    { ATTRIBUTE, "lt",              V_ORDERED, "case when jsonb_typeof (%c -> %k) = 'number' then (%c ->> %k)::numeric end < (%v)::numeric",
                                               "case when jsonb_typeof (%c -> %k) = 'string' then %c ->> %k end collate \"C\" < %v" },
    { ATTRIBUTE, "lte",             V_ORDERED, "case when jsonb_typeof (%c -> %k) = 'number' then (%c ->> %k)::numeric end <= (%v)::numeric",
                                               "case when jsonb_typeof (%c -> %k) = 'string' then %c ->> %k end collate \"C\" <= %v" },
    { ATTRIBUTE, "exists",          V_BOOL,    "%c ? %k" },
    { PLAN,      "eq",              V_STRING,  "exists (%c and p.plan_code = %v)" },
    { PLAN,      "in",              V_STRINGS, "exists (%c and p.plan_code = any (%l))" },
    { PLAN,      "exists",          V_BOOL,    "exists (%c)" },
    { TIME,      "before",          V_TIME,    "(%c > 0 and %c < (%v)::bigint)" },
    { TIME,      "after",           V_TIME,    "%c >= (%v)::bigint" },
    { TIME,      "within_days",     V_DAYS,    "%c >= (%v)::bigint" },
    { TIME,      "not_within_days", V_DAYS,    "%c < (%v)::bigint" },
    { TIME,      "exists",          V_BOOL,    "%c > 0" },
    { NUMBER,    "eq",              V_INTEGER, "%c = (%v)::bigint" },
    { NUMBER,    "ne",              V_INTEGER, "%c <> (%v)::bigint" },
    { NUMBER,    "gt",              V_INTEGER, "%c > (%v)::bigint" },
    { NUMBER,    "gte",             V_INTEGER, "%c >= (%v)::bigint" },
    { NUMBER,    "lt",              V_INTEGER, "%c < (%v)::bigint" },
    { NUMBER,    "lte",             V_INTEGER, "%c <= (%v)::bigint" },
    { BOOL,      "eq",              V_BOOL,    "%c" },
    { 0, NULL }
};

/* What the value of each kind must be, in an error's words (sentences of messaging's table of
   messages). */
static const char *const s_value_rule [] = {
    [V_STRING]  = "must be a string of 1 to 200 characters",
    [V_STRINGS] = "must be an array of 1 to 100 strings of 1 to 200 characters",
    [V_SCALAR]  = "must be a string, a number, true or false",
    [V_SCALARS] = "must be an array of 1 to 100 strings, numbers, true or false",
    [V_ORDERED] = "must be a number, or a string compared as text (a date: \"2026-04-01\")",
    [V_INTEGER] = "must be an integer",
    [V_TIME]    = "must be an RFC 3339 time: \"2026-04-01T10:00:00+09:00\"",
    [V_DAYS]    = "must be a whole number of days from 0 to 36500",
    [V_BOOL]    = "must be true or false"
};

typedef struct {
    pg_buffer_t sql;
    json_t *params;                   /* strings */
    int conditions;
    int64_t now_ms;
    pb_json_errors_t *errors;
} s_compiler_t;

static void
s_add (s_compiler_t *self, const char *text)
{
    pg_buffer_append (&self->sql, text, strlen (text));
}

/* Adds value (borrowed) as the next parameter and its reference to the SQL: "($1 ->> 3)", its
   text, or as_json "($1 -> 3)", the JSON value itself. */
static void
s_param (s_compiler_t *self, json_t *value, bool as_json)
{
    char reference [48];
    snprintf (reference, sizeof reference, "($1 %s %zu)", as_json? "->": "->>",
              json_array_size (self->params));
    json_array_append (self->params, value);
    s_add (self, reference);
}

/* A string value: 1..STRING_MAX_CHARS characters, no NUL, one of one_of when given. */
static bool
s_string_ok (json_t *value, const char *one_of)
{
    if (!json_is_string (value))
        return false;
    const char *text = json_string_value (value);
    size_t length = json_string_length (value);
    if (length == 0 || strlen (text) != length)
        return false;
    long chars = 0;
    for (const char *p = text; *p; p++)
        chars += ((unsigned char) *p & 0xC0) != 0x80;
    if (chars > STRING_MAX_CHARS)
        return false;
    if (!one_of)
        return true;
    for (const char *at = one_of; *at; ) {
        size_t word = strcspn (at, " ");
        if (word == length && strncmp (at, text, length) == 0)
            return true;
        at += word;
        at += strspn (at, " ");
    }
    return false;
}

static bool
s_scalar_ok (json_t *value)
{
    return s_string_ok (value, NULL) || json_is_number (value) || json_is_boolean (value);
}

/* An array of 1..FILTER_ITEMS_MAX items each passing the check. */
static bool
s_items_ok (json_t *value, const char *one_of, bool scalars)
{
    size_t count = json_array_size (value);
    if (!json_is_array (value) || count == 0 || count > FILTER_ITEMS_MAX)
        return false;
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_array_get (value, i);
        if (scalars? !s_scalar_ok (item): !s_string_ok (item, one_of))
            return false;
    }
    return true;
}

/* True when value suits kind (for a field whose values are limited to one_of); *ms is a
   V_TIME's or V_DAYS' time. */
static bool
s_value_ok (s_value_t kind, json_t *value, const char *one_of, int64_t now_ms, int64_t *ms)
{
    switch (kind) {
        case V_STRING:  return s_string_ok (value, one_of);
        case V_STRINGS: return s_items_ok (value, one_of, false);
        case V_SCALAR:  return s_scalar_ok (value);
        case V_SCALARS: return s_items_ok (value, NULL, true);
        case V_ORDERED: return json_is_number (value) || s_string_ok (value, NULL);
        case V_INTEGER: return json_is_integer (value);
        case V_BOOL:    return json_is_boolean (value);
        case V_TIME:
            return json_is_string (value) && clock_parse_ms (json_string_value (value), ms) == 0;
        case V_DAYS:
            if (!json_is_integer (value) || json_integer_value (value) < 0
            ||  json_integer_value (value) > DAYS_MAX)
                return false;
            *ms = now_ms - json_integer_value (value) * DAY_MS;
            return true;
    }
    return false;
}

/* The field named name, or -1; an attribute's key into key (41 bytes). */
static int
s_field (const char *name, char *key)
{
    for (int i = 0; s_fields [i].name; i++) {
        if (s_fields [i].type != ATTRIBUTE) {
            if (strcmp (s_fields [i].name, name) == 0)
                return i;
            continue;
        }
        size_t prefix = strlen (s_fields [i].name);
        if (strncmp (name, s_fields [i].name, prefix) != 0)
            continue;
        const char *rest = name + prefix;
        size_t length = strlen (rest);
        if (length >= 1 && length <= 40 && rest [0] >= 'a' && rest [0] <= 'z'
        &&  strspn (rest, "abcdefghijklmnopqrstuvwxyz0123456789_") == length) {
            snprintf (key, 41, "%s", rest);
            return i;
        }
    }
    return -1;
}

/* The names of what table holds, as "a, b, c" into text. */
static void
s_list_ops (s_type_t type, char *text, size_t size)
{
    text [0] = 0;
    for (int i = 0; s_ops [i].op; i++)
        if (s_ops [i].type == type) {
            size_t used = strlen (text);
            snprintf (text + used, size - used, "%s%s", used? ", ": "", s_ops [i].op);
        }
}

static void
s_list_fields (char *text, size_t size)
{
    text [0] = 0;
    for (int i = 0; s_fields [i].name; i++) {
        size_t used = strlen (text);
        snprintf (text + used, size - used, "%s%s%s", used? ", ": "", s_fields [i].name,
                  s_fields [i].type == ATTRIBUTE? "<key>": "");
    }
}

/* Writes op's SQL for the condition, its values as parameters. */
static void
s_emit (s_compiler_t *self, int op, const char *column, const char *key, json_t *value, int64_t ms)
{
    s_value_t kind = s_ops [op].value;
    bool negate = kind == V_BOOL && json_is_false (value);
    const char *sql = kind == V_ORDERED && json_is_string (value)? s_ops [op].sql_text: s_ops [op].sql;
    if (negate)
        s_add (self, "not (");
    for (const char *p = sql; *p; p++) {
        if (p [0] != '%' || !p [1]) {
            pg_buffer_append (&self->sql, p, 1);
            continue;
        }
        char which = *++p;
        bool as_json = kind == V_SCALAR || kind == V_SCALARS;
        if (which == 'c')
            s_add (self, column);
        else
        if (which == 'k') {
            json_t *text = json_string (key);
            s_param (self, text, false);
            json_decref (text);
        }
        else
        if (which == 'v' && (kind == V_TIME || kind == V_DAYS)) {
            json_t *number = json_integer (ms);
            s_param (self, number, false);
            json_decref (number);
        }
        else
        if (which == 'v')
            s_param (self, value, as_json);
        else
        if (which == 'l') {
            s_add (self, "array[");
            for (size_t i = 0; i < json_array_size (value); i++) {
                if (i)
                    s_add (self, ", ");
                s_param (self, json_array_get (value, i), as_json);
            }
            s_add (self, "]");
        }
    }
    if (negate)
        s_add (self, ")");
}

static void s_node (s_compiler_t *self, json_t *node, const char *path, int depth);

/* A node's path: path followed by what format says, into at (PATH_MAX_CHARS bytes; a longer
   one is cut, as pb_json_error would). */
static void
s_at (char *at, const char *path, const char *format, ...)
{
    snprintf (at, PATH_MAX_CHARS, "%s", path);
    size_t used = strlen (at);
    va_list args;
    va_start (args, format);
    vsnprintf (at + used, PATH_MAX_CHARS - used, format, args);
    va_end (args);
}

/* A condition node: {"field", "op", "value"}. */
static void
s_condition (s_compiler_t *self, json_t *node, const char *path)
{
    char at [PATH_MAX_CHARS], names [400], key [41] = "";
    json_t *name = json_object_get (node, "field"), *op_name = json_object_get (node, "op");
    json_t *value = json_object_get (node, "value");
    int field = json_is_string (name)? s_field (json_string_value (name), key): -1;
    if (field < 0) {
        s_list_fields (names, sizeof names);
        s_at (at, path, ".field");
        pb_json_error (self->errors, at, "must be one of %s", names);
        return;
    }
    s_type_t type = s_fields [field].type;
    int op = -1;
    for (int i = 0; s_ops [i].op && json_is_string (op_name); i++)
        if (s_ops [i].type == type && strcmp (s_ops [i].op, json_string_value (op_name)) == 0)
            op = i;
    if (op < 0) {
        s_list_ops (type, names, sizeof names);
        s_at (at, path, ".op");
        pb_json_error (self->errors, at, "must be an operator of %s: %s", json_string_value (name), names);
        return;
    }
    int64_t ms = 0;
    if (!s_value_ok (s_ops [op].value, value, s_fields [field].one_of, self->now_ms, &ms)) {
        s_at (at, path, ".value");
        if (s_fields [field].one_of && s_ops [op].value == V_STRING)
            pb_json_error (self->errors, at, "must be one of %s", s_fields [field].one_of);
        else
        if (s_fields [field].one_of)
            pb_json_error (self->errors, at, "must be an array of 1 to 100 of %s", s_fields [field].one_of);
        else
            pb_json_error_say (self->errors, at, s_value_rule [s_ops [op].value]);
        return;
    }
    if (++self->conditions > FILTER_CONDITIONS_MAX) {
        if (self->conditions == FILTER_CONDITIONS_MAX + 1)
            pb_json_error (self->errors, "filter", "must hold at most %d conditions", FILTER_CONDITIONS_MAX);
        return;
    }
    s_emit (self, op, s_fields [field].column, key, value, ms);
}

/* {"and": [nodes]} or {"or": [nodes]}. */
static void
s_list (s_compiler_t *self, json_t *nodes, const char *joiner, const char *path, int depth)
{
    size_t count = json_array_size (nodes);
    if (!json_is_array (nodes) || count == 0 || count > FILTER_CONDITIONS_MAX) {
        pb_json_error (self->errors, path, "must be an array of 1 to %d filters", FILTER_CONDITIONS_MAX);
        return;
    }
    s_add (self, "(");
    for (size_t i = 0; i < count; i++) {
        char at [PATH_MAX_CHARS];
        s_at (at, path, "[%zu]", i);
        if (i)
            s_add (self, joiner);
        s_node (self, json_array_get (nodes, i), at, depth + 1);
    }
    s_add (self, ")");
}

static void
s_node (s_compiler_t *self, json_t *node, const char *path, int depth)
{
    static const char *const keys [] = { "and", "or", "not", "field", "op", "value", NULL };
    if (!json_is_object (node)) {
        pb_json_error (self->errors, path, "must be an object: {\"and\": [...]}, {\"or\": [...]},"
                       " {\"not\": {...}} or {\"field\": ..., \"op\": ..., \"value\": ...}");
        return;
    }
    if (depth > FILTER_DEPTH_MAX) {
        pb_json_error (self->errors, path, "is nested deeper than %d levels", FILTER_DEPTH_MAX);
        return;
    }
    const char *key;
    json_t *value;
    json_object_foreach (node, key, value) {
        bool known = false;
        for (int i = 0; keys [i]; i++)
            known |= strcmp (keys [i], key) == 0;
        if (!known) {
            char at [PATH_MAX_CHARS];
            s_at (at, path, ".%.40s", key);
            pb_json_error (self->errors, at, "is not a key of a filter: and, or, not, field, op, value");
            return;
        }
    }
    const char *list = json_object_get (node, "and")? "and": json_object_get (node, "or")? "or": NULL;
    bool negation = json_object_get (node, "not") != NULL;
    size_t size = json_object_size (node);
    char at [PATH_MAX_CHARS];
    if ((list || negation) && size != 1)
        pb_json_error (self->errors, path, "must hold and, or or not alone");
    else
    if (list) {
        s_at (at, path, ".%s", list);
        s_list (self, json_object_get (node, list), *list == 'a'? " and ": " or ", at, depth);
    }
    else
    if (negation) {
        s_at (at, path, ".not");
        s_add (self, "not (");
        s_node (self, json_object_get (node, "not"), at, depth + 1);
        s_add (self, ")");
    }
    else
        s_condition (self, node, path);
}

int
filter_compile (json_t *filter, int64_t now_ms, filter_sql_t *out, pb_json_errors_t *errors,
                bool japanese)
{
    memset (errors, 0, sizeof *errors);
    errors->japanese = japanese;
    memset (out, 0, sizeof *out);
    s_compiler_t self = { { NULL, 0, 0 }, json_array (), 0, now_ms, errors };
    s_node (&self, filter, "filter", 1);
    if (errors->count) {
        free (self.sql.text);
        json_decref (self.params);
        return -1;
    }
    out->sql = self.sql.text;
    out->params = json_dumps (self.params, JSON_COMPACT);
    json_decref (self.params);
    return 0;
}

void
filter_sql_clear (filter_sql_t *compiled)
{
    free (compiled->sql);
    free (compiled->params);
    compiled->sql = compiled->params = NULL;
}
