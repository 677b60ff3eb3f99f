/* render.c - the templates' language: {{member.name}} put in, HTML-escaped in the HTML part,
   times in JST; checked when a template is saved, never discovered broken at send */
#include "render.h"
#include "clock.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAME_MAX_CHARS 64

/* The variables a template may name; "event." is followed by any field path of the event. */
static const char *const s_known [] = {
    "member.id", "member.name", "member.name_kana", "member.email", "member.rank",
    "member.status", "member.purchase_count", "member.purchase_total", "sender.name", "sender.address", "sender.business_name",
    "sender.postal_address", "sender.contact", "unsubscribe_url", NULL
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

int
render_check (const char *text, char *error, size_t size)
{
    const char *p = text;
    const char *open;
    while ((open = strstr (p, "{{"))) {
        char name [NAME_MAX_CHARS + 2];
        const char *after = s_tag (open + 2, name, sizeof name);
        int line, column;
        s_where (text, open, &line, &column);
        if (!after) {
            snprintf (error, size, "line %d, column %d: '{{' is not closed by '}}' on its line", line, column);
            return -1;
        }
        if (!*name) {
            snprintf (error, size, "line %d, column %d: '{{}}' names no variable", line, column);
            return -1;
        }
        if (strlen (name) > NAME_MAX_CHARS || !s_known_name (name)) {
            snprintf (error, size, "line %d, column %d: unknown variable '%.*s'", line, column,
                      NAME_MAX_CHARS, name);
            return -1;
        }
        p = after;
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
            snprintf (error, size, "line %d, column %d: '}}' closes no '{{'", line, column);
            return -1;
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

/* Adds value in mode: HTML-escaped, or on one line. */
static void
s_add_value (s_buffer_t *buffer, const char *value, render_mode_t mode)
{
    for (const char *p = value; *p; p++) {
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

/* The value at a dotted path of values, as text into scratch (or borrowed). */
static const char *
s_lookup (json_t *values, const char *name, char *scratch, size_t size)
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

char *
render (const char *text, json_t *values, render_mode_t mode)
{
    s_buffer_t buffer = { NULL, 0, 0 };
    s_add (&buffer, "", 0);
    const char *p = text;
    const char *open;
    while ((open = strstr (p, "{{"))) {
        char name [NAME_MAX_CHARS + 2];
        const char *after = s_tag (open + 2, name, sizeof name);
        assert (after);                 /* render_check passed */
        s_add (&buffer, p, (size_t) (open - p));
        char scratch [64];
        s_add_value (&buffer, s_lookup (values, name, scratch, sizeof scratch), mode);
        p = after;
    }
    if (mode == RENDER_HEADER)
        s_add_value (&buffer, p, mode);
    else
        s_add (&buffer, p, strlen (p));
    return buffer.text;
}
