/* csv.c - CSV as Excel reads and writes it (RFC 4180), in UTF-8 or Shift_JIS (CP932) */
#include "csv.h"
#include "utf8.h"
#include <assert.h>
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 256

/* The bytes at the end of text (length bytes) that begin a UTF-8 character they do not
   finish: 0 to 3. */
static size_t
s_utf8_cut (const char *text, size_t length)
{
    for (size_t back = 1; back <= 3 && back <= length; back++) {
        unsigned char c = (unsigned char) text [length - back];
        if ((c & 0xC0) == 0x80)
            continue;                   /* a continuation byte: its lead is further back */
        size_t needs = c >= 0xF0? 4: c >= 0xE0? 3: c >= 0xC0? 2: 1;
        return needs > back? back: 0;
    }
    return 0;
}

/* Converts CP932 to UTF-8 into out; *rest the bytes of a character cut at the end (0 when
   last: then a cut character is an error). Returns 0 or -1. */
static int
s_from_cp932 (const char *data, size_t length, bool last, pg_buffer_t *out, size_t *rest)
{
    iconv_t converter = iconv_open ("UTF-8", "CP932");
    if (converter == (iconv_t) -1)
        return -1;
    size_t capacity = length * 3 + 1;       /* a CP932 byte never grows beyond 3 UTF-8 bytes */
    out->text = malloc (capacity);
    assert (out->text);
    char *in = (char *) data, *cursor = out->text;
    size_t in_left = length, out_left = capacity - 1;
    size_t converted = iconv (converter, &in, &in_left, &cursor, &out_left);
    int failure = converted == (size_t) -1? errno: 0;
    iconv_close (converter);
    out->used = (size_t) (cursor - out->text);
    *rest = in_left;
    return failure && (failure != EINVAL || last)? -1: 0;
}

char *
csv_to_utf8_part (const char *data, size_t length, bool first, bool last, char charset [16],
                  size_t *size, size_t *rest)
{
    if (length == 0)
        data = "";                  /* an empty upload may come as no buffer at all */
    *rest = 0;
    if (first && length >= 3 && memcmp (data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        length -= 3;
        snprintf (charset, 16, "utf-8-bom");
    }
    if (!*charset) {
        /* Undecided while the file is ASCII, which both charsets read alike: its first
           other bytes decide, UTF-8 when the rest of this slice is UTF-8, else CP932. */
        size_t ascii = 0;
        while (ascii < length && (unsigned char) data [ascii] < 0x80)
            ascii++;
        size_t cut = last? 0: s_utf8_cut (data + ascii, length - ascii);
        if (ascii < length - cut)
            snprintf (charset, 16, utf8_valid (data + ascii, length - ascii - cut)? "utf-8": "cp932");
        else
        if (last)
            snprintf (charset, 16, "utf-8");
    }
    pg_buffer_t out = { 0 };
    if (strcmp (charset, "cp932") == 0) {
        if (s_from_cp932 (data, length, last, &out, rest) == -1) {
            free (out.text);
            return NULL;
        }
    }
    else {
        *rest = last? 0: s_utf8_cut (data, length);
        if (!utf8_valid (data, length - *rest))
            return NULL;
        out.text = malloc (length - *rest + 1);
        assert (out.text);
        memcpy (out.text, data, length - *rest);
        out.used = length - *rest;
    }
    out.text [out.used] = 0;
    *size = out.used;
    return out.text;
}

char *
csv_to_utf8 (const char *data, size_t length, size_t *size, const char **charset)
{
    char found [16] = "";
    size_t rest;
    char *text = csv_to_utf8_part (data, length, true, true, found, size, &rest);
    *charset = strcmp (found, "cp932") == 0? "cp932": strcmp (found, "utf-8-bom") == 0? "utf-8-bom"
             : "utf-8";
    return text;
}

struct _csv_reader_t {
    const char *text, *end, *cursor;
    int line;
    char *fields [MAX_FIELDS];
    int count;
    char *field;                    /* the field being read */
    size_t field_size, field_used;
};

csv_reader_t *
csv_reader_new (const char *text, size_t size)
{
    csv_reader_t *self = calloc (1, sizeof *self);
    assert (self);
    self->text = self->cursor = text;
    self->end = text + size;
    self->line = 1;
    return self;
}

static void
s_clear_fields (csv_reader_t *self)
{
    for (int i = 0; i < self->count; i++)
        free (self->fields [i]);
    self->count = 0;
}

void
csv_reader_destroy (csv_reader_t **self_p)
{
    csv_reader_t *self = *self_p;
    if (!self)
        return;
    s_clear_fields (self);
    free (self->field);
    free (self);
    *self_p = NULL;
}

static void
s_put (csv_reader_t *self, char c)
{
    if (self->field_used + 1 >= self->field_size) {
        self->field_size = self->field_size? self->field_size * 2: 64;
        self->field = realloc (self->field, self->field_size);
        assert (self->field);
    }
    self->field [self->field_used++] = c;
}

static void
s_end_field (csv_reader_t *self)
{
    s_put (self, 0);
    if (self->count < MAX_FIELDS)
        self->fields [self->count++] = strdup (self->field);
    self->field_used = 0;
}

int
csv_reader_next (csv_reader_t *self, char ***fields, int *line)
{
    s_clear_fields (self);
    /* Blank lines between records are skipped, as spreadsheets do. */
    while (self->cursor < self->end && (*self->cursor == '\n' || *self->cursor == '\r')) {
        if (*self->cursor == '\n')
            self->line++;
        self->cursor++;
    }
    if (self->cursor >= self->end)
        return 0;
    *line = self->line;
    bool quoted = false, was_quoted = false;
    self->field_used = 0;
    while (self->cursor < self->end) {
        char c = *self->cursor++;
        if (quoted) {
            if (c == '"') {
                if (self->cursor < self->end && *self->cursor == '"') {
                    s_put (self, '"');
                    self->cursor++;
                }
                else
                    quoted = false;
            }
            else {
                if (c == '\n')
                    self->line++;
                s_put (self, c);
            }
        }
        else
        if (c == '"' && self->field_used == 0 && !was_quoted)
            quoted = was_quoted = true;
        else
        if (c == ',') {
            s_end_field (self);
            was_quoted = false;
        }
        else
        if (c == '\r' || c == '\n') {
            if (c == '\r' && self->cursor < self->end && *self->cursor == '\n')
                self->cursor++;
            self->line++;
            break;
        }
        else
            s_put (self, c);
    }
    if (quoted)
        return -1;
    s_end_field (self);
    *fields = self->fields;
    return self->count;
}

size_t
csv_reader_offset (const csv_reader_t *self)
{
    return (size_t) (self->cursor - self->text);
}

/* True when a spreadsheet could run the field as a formula (CSV injection): Excel evaluates a
   cell that starts with =, +, - or @ (-1+2 gives 1, +81-90-1234-5678 a sum), and a leading tab
   or CR hides the rest. */
static bool
s_formula_like (const char *field)
{
    return *field && strchr ("=+-@\t\r", field [0]);
}

void
csv_unguard (char *field)
{
    if (field [0] == '\'' && s_formula_like (field + 1))
        memmove (field, field + 1, strlen (field));
}

void
csv_buffer_field (pg_buffer_t *buffer, const char *field, int last)
{
    bool formula = s_formula_like (field);
    if (formula || strpbrk (field, ",\"\r\n")) {
        pg_buffer_append (buffer, formula? "\"'": "\"", formula? 2: 1);
        const char *span = field;
        for (const char *quote; (quote = strchr (span, '"')); span = quote + 1) {
            pg_buffer_append (buffer, span, quote - span);
            pg_buffer_append (buffer, "\"\"", 2);
        }
        pg_buffer_append (buffer, span, strlen (span));
        pg_buffer_append (buffer, "\"", 1);
    }
    else
        pg_buffer_append (buffer, field, strlen (field));
    pg_buffer_append (buffer, last? "\r\n": ",", last? 2: 1);
}
