/* fuzz_csv.c - the CSV reader (common/csv.c) on any bytes: decoded to UTF-8 whatever the
   charset (CP932, UTF-8 with or without BOM), then read record by record, each field
   unguarded as an import does. The reader's offset only moves forward, within the text, and
   a record written out as an export writes it (csv_buffer_field) reads back the same. */
#include "csv.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Writes the record's fields as an export does and reads them back: the same fields. */
static void
s_write_and_read (char **fields, int count)
{
    pg_buffer_t buffer = { 0 };
    for (int i = 0; i < count; i++)
        csv_buffer_field (&buffer, fields [i], i == count - 1);
    csv_reader_t *reader = csv_reader_new (buffer.text, buffer.used);
    char **again;
    int line;
    if (csv_reader_next (reader, &again, &line) != count)
        abort ();
    for (int i = 0; i < count; i++) {
        csv_unguard (again [i]);
        if (strcmp (again [i], fields [i]) != 0)
            abort ();
    }
    csv_reader_destroy (&reader);
    free (buffer.text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *charset;
    size_t text_size;
    char *text = csv_to_utf8 ((const char *) data, size, &text_size, &charset);
    if (!text)
        return 0;
    csv_reader_t *reader = csv_reader_new (text, text_size);
    char **fields;
    int line;
    size_t offset = 0;
    int count;
    while ((count = csv_reader_next (reader, &fields, &line)) > 0) {
        char **copies = malloc (sizeof *copies * (size_t) count);
        for (int i = 0; i < count; i++) {
            csv_unguard (fields [i]);
            copies [i] = strdup (fields [i]);
        }
        if (count > 1 || copies [0][0])    /* one empty field is a blank line */
            s_write_and_read (copies, count);
        for (int i = 0; i < count; i++)
            free (copies [i]);
        free (copies);
        size_t now = csv_reader_offset (reader);
        if (now < offset || now > text_size)
            abort ();
        offset = now;
    }
    csv_reader_destroy (&reader);
    free (text);
    return 0;
}
