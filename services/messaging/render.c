/* render.c - the templates' language: {{member.name}} put in, HTML-escaped in the HTML part,
   times in JST; checked when a template is saved, never discovered broken at send */
#include "render.h"
#include "clock.h"
#include "messages.h"
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAME_MAX_CHARS 64
#define MAX_DEPTH 8             /* {{#if}} sections inside one another */

/* The variables a template may name; "event." is followed by any field path of the event. */
static const char *const s_known [] = {
    "member.id", "member.name", "member.name_kana", "member.email", "member.rank",
    "member.status", "member.purchase_count", "member.purchase_total", "sender.name", "sender.address", "sender.business_name",
    "sender.postal_address", "sender.contact", "unsubscribe_url", "recommendations", NULL
};

static bool
s_path (const char *name)
{
    if (!*name || *name == '.' || name [strlen (name) - 1] == '.' || strstr (name, ".."))
        return false;
    return strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789_.") == strlen (name);
}

static bool
s_known_name (const char *name)
{
    for (int i = 0; s_known [i]; i++)
        if (strcmp (s_known [i], name) == 0)
            return true;
    return strncmp (name, "event.", 6) == 0 && s_path (name + 6);
}

/* The variable name of a "{{ name }}" starting at open (just after the braces) into name:
   spaces trimmed. Returns the position just after "}}", or NULL when unclosed on its line. */
static const char *
s_tag (const char *open, char *name, size_t size)
{
    const char *close = strstr (open, "}}");
    const char *newline = strpbrk (open, "\r\n");
    if (!close || (newline && newline < close))
        return NULL;
    const char *start = open, *end = close;
    while (start < end && *start == ' ')
        start++;
    while (end > start && end [-1] == ' ')
        end--;
    size_t length = (size_t) (end - start);
    if (length >= size)
        length = size - 1;
    memcpy (name, start, length);
    name [length] = 0;
    return close + 2;
}

/* The line and column (in characters) of position at in text. */
static void
s_where (const char *text, const char *at, int *line, int *column)
{
    *line = 1;
    *column = 1;
    for (const char *p = text; p < at; p++) {
        if (*p == '\n') {
            (*line)++;
            *column = 1;
        }
        else
        if (((unsigned char) *p & 0xC0) != 0x80)
            (*column)++;
    }
}

/* What a tag is: a variable put in, or one of the section's three parts. */
typedef enum { TAG_VALUE, TAG_IF, TAG_ELSE, TAG_END } s_kind_t;

/* The kind of the tag whose trimmed text is name; for TAG_IF, *variable is the name tested. */
static s_kind_t
s_kind (const char *name, const char **variable)
{
    *variable = name;
    if (strncmp (name, "#if ", 4) == 0) {
        *variable = name + 4;
        while (**variable == ' ')
            (*variable)++;
        return TAG_IF;
    }
    return strcmp (name, "else") == 0? TAG_ELSE: strcmp (name, "/if") == 0? TAG_END: TAG_VALUE;
}

/* Splits a tag's "name | filter" in place: name keeps the variable, the filter (trimmed) is
   returned, or NULL when there is none. */
static const char *
s_filter (char *name)
{
    char *bar = strchr (name, '|');
    if (!bar)
        return NULL;
    char *end = bar;
    while (end > name && end [-1] == ' ')
        end--;
    *end = 0;
    bar++;
    while (*bar == ' ')
        bar++;
    return bar;
}

/* Writes why a check failed into error (size bytes): format, in Japanese when japanese and
   messaging's table of messages has it, and its code into *code. Returns -1. */
static int
s_refuse (char *error, size_t size, const char **code, bool japanese, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

static int
s_refuse (char *error, size_t size, const char **code, bool japanese, const char *format, ...)
{
    *code = messages_code (format);
    va_list args;
    va_start (args, format);
    vsnprintf (error, size, messages_say (japanese, format), args);
    va_end (args);
    return -1;
}

int
render_check (const char *text, bool japanese, char *error, size_t size, const char **code)
{
    const char *p = text;
    const char *open;
    const char *sections [MAX_DEPTH];     /* where each open {{#if}} is */
    bool has_else [MAX_DEPTH];
    int depth = 0;
    while ((open = strstr (p, "{{"))) {
        char name [NAME_MAX_CHARS + 6];
        const char *after = s_tag (open + 2, name, sizeof name);
        int line, column;
        s_where (text, open, &line, &column);
        if (!after)
            return s_refuse (error, size, code, japanese,
                             "line %d, column %d: '{{' is not closed by '}}' on its line", line, column);
        if (!*name)
            return s_refuse (error, size, code, japanese, "line %d, column %d: '{{}}' names no variable",
                             line, column);
        const char *filter = s_filter (name);
        const char *variable;
        s_kind_t kind = s_kind (name, &variable);
        if (filter && kind == TAG_VALUE && strcmp (filter, "number") != 0 && strcmp (filter, "yen") != 0)
            return s_refuse (error, size, code, japanese,
                             "line %d, column %d: unknown filter '%.16s' (number or yen)", line, column, filter);
        if (filter && kind != TAG_VALUE)
            return s_refuse (error, size, code, japanese, "line %d, column %d: '{{%s…}}' takes no filter",
                             line, column, kind == TAG_IF? "#if ": name);
        if (kind == TAG_ELSE || kind == TAG_END) {
            if (depth == 0)
                return s_refuse (error, size, code, japanese,
                                 "line %d, column %d: '{{%s}}' is not inside a '{{#if …}}'", line, column, name);
            if (kind == TAG_ELSE && has_else [depth - 1])
                return s_refuse (error, size, code, japanese,
                                 "line %d, column %d: '{{%s}}' comes twice in one '{{#if …}}'", line, column, name);
            if (kind == TAG_ELSE)
                has_else [depth - 1] = true;
            else
                depth--;
            p = after;
            continue;
        }
        if (kind == TAG_IF && depth == MAX_DEPTH)
            return s_refuse (error, size, code, japanese,
                             "line %d, column %d: '{{#if …}}' is nested more than %d deep", line, column, MAX_DEPTH);
        if (strlen (variable) > NAME_MAX_CHARS || !s_known_name (variable))
            return s_refuse (error, size, code, japanese, "line %d, column %d: unknown variable '%.*s'",
                             line, column, NAME_MAX_CHARS, variable);
        if (kind == TAG_IF) {
            sections [depth] = open;
            has_else [depth++] = false;
        }
        p = after;
    }
    if (depth > 0) {
        int line, column;
        s_where (text, sections [depth - 1], &line, &column);
        return s_refuse (error, size, code, japanese,
                         "line %d, column %d: '{{#if …}}' is not closed by '{{/if}}'", line, column);
    }
    const char *stray = strstr (text, "}}");
    p = text;
    /* A "}}" that closes no "{{" is a typo of one that was meant to open. */
    while (stray) {
        const char *last_open = NULL;
        for (const char *q = p; (q = strstr (q, "{{")) && q < stray; q += 2)
            last_open = q;
        if (!last_open) {
            int line, column;
            s_where (text, stray, &line, &column);
            return s_refuse (error, size, code, japanese, "line %d, column %d: '}}' closes no '{{'", line, column);
        }
        p = stray + 2;
        stray = strstr (p, "}}");
    }
    return 0;
}

/* A growing string. */
typedef struct {
    char *text;
    size_t used, size;
} s_buffer_t;

static void
s_add (s_buffer_t *buffer, const char *bytes, size_t length)
{
    if (buffer->used + length + 1 > buffer->size) {
        buffer->size = (buffer->used + length + 1) * 2;
        buffer->text = realloc (buffer->text, buffer->size);
        assert (buffer->text);
    }
    memcpy (buffer->text + buffer->used, bytes, length);
    buffer->used += length;
    buffer->text [buffer->used] = 0;
}

/* Adds length bytes of value in mode: HTML-escaped, or on one line. */
static void
s_add_value (s_buffer_t *buffer, const char *value, size_t length, render_mode_t mode)
{
    for (const char *p = value; p < value + length; p++) {
        const char *entity = NULL;
        char one = *p;
        if (mode == RENDER_HTML)
            entity = one == '<'? "&lt;": one == '>'? "&gt;": one == '&'? "&amp;"
                   : one == '"'? "&quot;": one == '\''? "&#39;": NULL;
        else
        if (mode == RENDER_HEADER && (one == '\r' || one == '\n' || one == '\t'))
            one = ' ';
        if (entity)
            s_add (buffer, entity, strlen (entity));
        else
            s_add (buffer, &one, 1);
    }
}

/* A time as an event carries it (RFC 3339, UTC: "2026-12-05T09:27:00Z") as a reader in Japan
   reads it, in JST: "2026年12月5日 18:27". Anything else is returned as it is. */
static const char *
s_readable (const char *text, char *scratch, size_t size)
{
    int64_t unix_ms;
    size_t length = strlen (text);
    if (length < 20 || text [10] != 'T' || text [length - 1] != 'Z'
    ||  clock_parse_ms (text, &unix_ms) == -1)
        return text;
    time_t jst = (time_t) (unix_ms / 1000) + 9 * 3600;
    struct tm tm;
    gmtime_r (&jst, &tm);
    snprintf (scratch, size, "%d年%d月%d日 %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday, tm.tm_hour, tm.tm_min);
    return scratch;
}

/* The node at a dotted path of values (borrowed), or NULL. */
static json_t *
s_node (json_t *values, const char *name)
{
    json_t *node = values;
    char path [NAME_MAX_CHARS + 2];
    snprintf (path, sizeof path, "%s", name);
    for (char *segment = path, *dot; node && segment; segment = dot) {
        dot = strchr (segment, '.');
        if (dot)
            *dot++ = 0;
        node = json_is_object (node)? json_object_get (node, segment): NULL;
    }
    return node;
}

/* The value at a dotted path of values, as text into scratch (or borrowed). */
static const char *
s_lookup (json_t *values, const char *name, char *scratch, size_t size)
{
    json_t *node = s_node (values, name);
    if (json_is_string (node))
        return s_readable (json_string_value (node), scratch, size);
    if (json_is_integer (node))
        snprintf (scratch, size, "%lld", (long long) json_integer_value (node));
    else
    if (json_is_real (node))
        snprintf (scratch, size, "%g", json_real_value (node));
    else
    if (json_is_boolean (node))
        snprintf (scratch, size, "%s", json_is_true (node)? "true": "false");
    else
        scratch [0] = 0;
    return scratch;
}

/* value as filter writes it: "number" puts thousands separators into a whole number (1100 →
   1,100), "yen" writes it as an amount (¥1,100, -¥500); anything else, or a value that is not a whole
   number, stays as it is. Into out (size bytes) or borrowed. */
static const char *
s_format (const char *value, const char *filter, char *out, size_t size)
{
    const char *digits = value + (*value == '-');
    size_t count = strspn (digits, "0123456789");
    if (!filter || count == 0 || digits [count] || count > 20 || size < 40)
        return value;
    size_t used = (size_t) snprintf (out, size, "%s%s", *value == '-'? "-": "",
                                     strcmp (filter, "yen") == 0? "¥": "");
    for (size_t i = 0; i < count; i++) {
        out [used++] = digits [i];
        if ((count - i - 1) % 3 == 0 && i + 1 < count)
            out [used++] = ',';
    }
    out [used] = 0;
    return out;
}

/* Whether a section's variable holds something: a string or number other than "" and 0,
   true, or a list of at least one. */
static bool
s_truthy (json_t *values, const char *name)
{
    json_t *node = s_node (values, name);
    if (json_is_array (node))
        return json_array_size (node) > 0;
    char scratch [64];
    const char *text = s_lookup (values, name, scratch, sizeof scratch);
    return *text && strcmp (text, "0") != 0 && strcmp (text, "false") != 0;
}

/* Where the line holding a section's tag (open … after) ends, newline included, when the tag
   stands alone on it (spaces and tabs aside): that line leaves nothing in the output. NULL
   otherwise. */
static const char *
s_alone (const char *text, const char *open, const char *after)
{
    const char *start = open;
    while (start > text && (start [-1] == ' ' || start [-1] == '\t'))
        start--;
    if (start > text && start [-1] != '\n')
        return NULL;
    const char *end = after + strspn (after, " \t");
    if (*end == '\r' && end [1] == '\n')
        return end + 2;
    return *end == '\n'? end + 1: *end? NULL: end;
}

/* Adds a list of strings ({{recommendations}}) in mode: in text a line "・item" each (no newline
   after the last: the template's own follows), in HTML an escaped <ul><li>, in a header the
   items joined by "、". An empty list adds nothing. */
static void
s_add_list (s_buffer_t *buffer, json_t *list, render_mode_t mode)
{
    size_t size = json_array_size (list);
    if (mode == RENDER_HTML && size)
        s_add (buffer, "<ul>", 4);
    for (size_t i = 0; i < size; i++) {
        const char *item = json_string_value (json_array_get (list, i));
        const char *before = mode == RENDER_HTML? "<li>": mode == RENDER_TEXT? (i? "\n・": "・")
                           : i? "、": "";
        s_add (buffer, before, strlen (before));
        if (item)
            s_add_value (buffer, item, strlen (item), mode);
        if (mode == RENDER_HTML)
            s_add (buffer, "</li>", 5);
    }
    if (mode == RENDER_HTML && size)
        s_add (buffer, "</ul>", 5);
}

bool
render_names (const char *text, const char *variable)
{
    const char *p = text, *open;
    while ((open = strstr (p, "{{"))) {
        char name [NAME_MAX_CHARS + 6];
        const char *after = s_tag (open + 2, name, sizeof name), *tested;
        if (!after)
            return false;
        s_filter (name);
        s_kind (name, &tested);
        if (strcmp (tested, variable) == 0)
            return true;
        p = after;
    }
    return false;
}

/* Adds text (from .. to) when shown, in mode. */
static void
s_add_text (s_buffer_t *buffer, const char *from, const char *to, render_mode_t mode, bool shown)
{
    if (!shown || to <= from)
        return;
    if (mode == RENDER_HEADER)
        s_add_value (buffer, from, (size_t) (to - from), mode);
    else
        s_add (buffer, from, (size_t) (to - from));
}

char *
render (const char *text, json_t *values, render_mode_t mode)
{
    s_buffer_t buffer = { NULL, 0, 0 };
    s_add (&buffer, "", 0);
    /* shown [d]: whether the text at depth d is written (each section: its parent shown and
       its variable held, or not held after {{else}}); held [d]: the section's test. */
    bool shown [MAX_DEPTH + 1] = { true }, held [MAX_DEPTH + 1];
    int depth = 0;
    const char *p = text;
    const char *open;
    while ((open = strstr (p, "{{"))) {
        char name [NAME_MAX_CHARS + 6];
        const char *after = s_tag (open + 2, name, sizeof name);
        assert (after);                 /* render_check passed */
        const char *filter = s_filter (name);
        const char *variable;
        s_kind_t kind = s_kind (name, &variable);
        if (kind == TAG_VALUE) {
            s_add_text (&buffer, p, open, mode, shown [depth]);
            char scratch [64], formatted [64];
            json_t *list = s_node (values, variable);
            if (shown [depth] && json_is_array (list))
                s_add_list (&buffer, list, mode);
            else
            if (shown [depth]) {
                const char *value = s_format (s_lookup (values, variable, scratch, sizeof scratch),
                                              filter, formatted, sizeof formatted);
                s_add_value (&buffer, value, strlen (value), mode);
            }
            p = after;
            continue;
        }
        /* A section's tag alone on its line takes the line with it. */
        const char *line_end = s_alone (text, open, after);
        const char *before = open;
        if (line_end)
            while (before > p && (before [-1] == ' ' || before [-1] == '\t'))
                before--;
        s_add_text (&buffer, p, before, mode, shown [depth]);
        p = line_end? line_end: after;
        if (kind == TAG_IF) {
            assert (depth < MAX_DEPTH);
            held [depth + 1] = s_truthy (values, variable);
            shown [depth + 1] = shown [depth] && held [depth + 1];
            depth++;
        }
        else
        if (kind == TAG_ELSE)
            shown [depth] = shown [depth - 1] && !held [depth];
        else
            depth--;
    }
    s_add_text (&buffer, p, p + strlen (p), mode, true);
    return buffer.text;
}
