/* csv.h - CSV as Excel reads and writes it (RFC 4180), in UTF-8 or Shift_JIS (CP932) */
#ifndef KAIIN_CSV_H
#define KAIIN_CSV_H
#include "pg.h"
#include <stdbool.h>
#include <stddef.h>

/* Converts a file's bytes to UTF-8: a UTF-8 byte-order mark is dropped, valid UTF-8 is kept,
   anything else is read as CP932 (Excel's "CSV" in Japan) through iconv. Returns a new
   NUL-terminated string the caller frees, with its length in *size and the charset found
   ("utf-8", "utf-8-bom", "cp932") in *charset; NULL when the bytes are neither. */
char *csv_to_utf8 (const char *data, size_t length, size_t *size, const char **charset);

/* The same for one slice of a file that comes in slices (first, last), so that no more than
   a slice is held: charset ("" before the first slice) is what was found so far, "" while
   the file has been ASCII. Converts the slice but its last *rest bytes (0 to 3), which begin
   a character that the next slice ends: send them again before it. Returns the text as
   csv_to_utf8 does, or NULL when the bytes are not text of the charset found (a file that
   began as UTF-8 and goes on as CP932 is not), or the last slice ends in a cut character. */
char *csv_to_utf8_part (const char *data, size_t length, bool first, bool last, char charset [16],
                        size_t *size, size_t *rest);

typedef struct _csv_reader_t csv_reader_t;

/* Reads rows from text (UTF-8, borrowed for the reader's life). */
csv_reader_t *csv_reader_new (const char *text, size_t size);
void csv_reader_destroy (csv_reader_t **self_p);

/* Reads the next record: quoted fields may hold commas, quotes ("") and line breaks; CRLF and
   LF both end a record. Returns the number of fields (>= 1), 0 at the end, or -1 on a quote
   left open. fields (borrowed until the next call) and *line (the record's first line, from 1)
   describe the record. */
int csv_reader_next (csv_reader_t *self, char ***fields, int *line);

/* The bytes of text read so far: after a record, where the next one (or a blank line) starts. */
size_t csv_reader_offset (const csv_reader_t *self);

/* Appends one field to buffer (quoted when it needs to be) and its separator: ',' or CRLF when
   last. A field a spreadsheet would run as a formula (it starts with =, +, -, @, a tab or CR)
   is written after a ' that keeps it text. */
void csv_buffer_field (pg_buffer_t *buffer, const char *field, int last);

/* Removes, in place, the ' that csv_buffer_field writes before a formula-like field: exactly
   that guard, so a ' before anything else is the cell's own and stays. */
void csv_unguard (char *field);

#endif
