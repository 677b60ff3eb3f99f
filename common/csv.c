/* csv.c - CSV as Excel reads and writes it (RFC 4180), in UTF-8 or Shift_JIS (CP932) */
#include "csv.h"
#include "utf8.h"
#include <assert.h>
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 256

char *
csv_to_utf8 (const char *data, size_t length, size_t *size, const char **charset)
{
    if (length == 0)
        data = "";                  /* an empty upload may come as no buffer at all */
    if (length >= 3 && memcmp (data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        length -= 3;
        *charset = "utf-8-bom";
        if (!utf8_valid (data, length))
            return NULL;
    }
    else
        *charset = utf8_valid (data, length)? "utf-8": "cp932";
    if (strcmp (*charset, "cp932") != 0) {
        char *copy = malloc (length + 1);
        assert (copy);
        memcpy (copy, data, length);
        copy [length] = 0;
        *size = length;
        return copy;
    }
    iconv_t converter = iconv_open ("UTF-8", "CP932");
    if (converter == (iconv_t) -1)
        return NULL;
    size_t capacity = length * 3 + 1;       /* a CP932 byte never grows beyond 3 UTF-8 bytes */
    char *out = malloc (capacity), *in = (char *) data, *cursor = out;
    assert (out);
    size_t in_left = length, out_left = capacity - 1;
    size_t converted = iconv (converter, &in, &in_left, &cursor, &out_left);
    iconv_close (converter);
    if (converted == (size_t) -1) {
        free (out);
        return NULL;
    }
    *cursor = 0;
    *size = cursor - out;
    return out;
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
