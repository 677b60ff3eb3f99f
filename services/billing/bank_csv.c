/* bank_csv.c - bank statements as CSV (a net bank's 入出金明細 download): a header row naming
   the date, amount, payer and, optionally, reference columns in Japanese or English */
#include "bank_csv.h"
#include "csv.h"
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { DATE, AMOUNT, PAYER, REFERENCE, COLUMNS };

/* Each column's names, the first the one an error names. */
static const char *const s_names [COLUMNS][6] = {
    { "日付", "勘定日", "取引日", "date", NULL },
    { "金額", "入金額", "入金金額", "amount", NULL },
    { "振込依頼人名", "依頼人名", "payer", "payer_name", NULL },
    { "摘要", "参照番号", "照会番号", "reference", NULL },
};

static void
s_error (zengin_t *out, int row, const char *fmt)
{
    if (out->n_errors < ZENGIN_MAX_ERRORS)
        out->errors [out->n_errors++] = (zengin_error_t) { row, fmt, 0, 0 };
}

/* The trimmed field's copy into out (size bytes); -1 when it does not fit. */
static int
s_copy (const char *field, char *out, size_t size)
{
    while (*field == ' ')
        field++;
    size_t length = strlen (field);
    while (length > 0 && field [length - 1] == ' ')
        length--;
    if (length >= size)
        return -1;
    memcpy (out, field, length);
    out [length] = 0;
    return 0;
}

/* YYYY-MM-DD or YYYY/M/D into YYYY-MM-DD; -1 when it is no date. */
static int
s_date (const char *field, char out [11])
{
    int year, month, day, used = 0;
    char a, b;
    if (sscanf (field, " %4d%c%2d%c%2d %n", &year, &a, &month, &b, &day, &used) != 5 || field [used]
    ||  a != b || (a != '-' && a != '/'))
        return -1;
    static const int days [] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if (year < 2000 || year > 2999 || month < 1 || month > 12 || day < 1 || day > days [month - 1]
    ||  (month == 2 && day == 29 && !leap))
        return -1;
    snprintf (out, 11, "%04u-%02u-%02u", (unsigned) year % 10000u, (unsigned) month % 100u, (unsigned) day % 100u);
    return 0;
}

/* Digits, with commas and a ¥ before or 円 after; -1 for anything else or none. */
static long long
s_amount (const char *field)
{
    long long value = 0;
    int digits = 0;
    const char *at = field;
    while (*at == ' ')
        at++;
    if (strncmp (at, "¥", strlen ("¥")) == 0)
        at += strlen ("¥");
    else
    if (*at == '\\')
        at++;
    for (; *at; at++) {
        if (isdigit ((unsigned char) *at) && digits < 13) {
            value = value * 10 + (*at - '0');
            digits++;
        }
        else
        if (*at != ',')
            break;
    }
    if (strcmp (at, "円") == 0)
        at += strlen ("円");
    while (*at == ' ')
        at++;
    return digits && !*at? value: -1;
}

/* When the whole file is neither UTF-8 nor CP932: the rows (lines) that are not. */
static void
s_bad_rows (const char *data, size_t size, zengin_t *out)
{
    int row = 0;
    for (const char *line = data; line < data + size; ) {
        const char *end = memchr (line, '\n', (size_t) (data + size - line));
        size_t length = end? (size_t) (end - line): (size_t) (data + size - line);
        size_t converted;
        const char *charset;
        char *text = csv_to_utf8 (line, length, &converted, &charset);
        row++;
        if (!text)
            s_error (out, row, "row %d: neither UTF-8 nor Shift_JIS (broken encoding?)");
        free (text);
        line += length + 1;
    }
    if (!out->n_errors)
        s_error (out, 1, "row %d: neither UTF-8 nor Shift_JIS (broken encoding?)");
}

int
bank_csv_parse (const char *data, size_t size, zengin_t *out)
{
    memset (out, 0, sizeof *out);
    size_t length;
    const char *charset;
    char *text = csv_to_utf8 (data, size, &length, &charset);
    if (!text) {
        s_bad_rows (data, size, out);
        return -1;
    }
    csv_reader_t *reader = csv_reader_new (text, length);
    char **fields;
    int count, line, at [COLUMNS] = { -1, -1, -1, -1 };
    if ((count = csv_reader_next (reader, &fields, &line)) <= 0)
        s_error (out, 1, "row %d: the header names no columns");
    for (int i = 0; i < count; i++)
        for (int column = 0; column < COLUMNS; column++)
            for (int k = 0; s_names [column][k]; k++) {
                char name [64];
                if (at [column] < 0 && s_copy (fields [i], name, sizeof name) == 0
                &&  strcasecmp (name, s_names [column][k]) == 0)
                    at [column] = i;
            }
    if (count > 0 && (at [DATE] < 0 || at [AMOUNT] < 0 || at [PAYER] < 0))
        s_error (out, 1, "row %d: the header must name 日付 (date), 金額 (amount) and 振込依頼人名 (payer)");
    bool header = out->n_errors == 0;
    while (header && (count = csv_reader_next (reader, &fields, &line)) != 0) {
        if (count < 0) {
            s_error (out, line, "row %d: a quote is left open");
            break;
        }
        if (count == 1 && !*fields [0])
            continue;                                   /* an empty line */
        zengin_deposit_t deposit = { .row = line };
        const char *cell [COLUMNS];
        for (int column = 0; column < COLUMNS; column++)
            cell [column] = at [column] >= 0 && at [column] < count? fields [at [column]]: "";
        long long amount = s_amount (cell [AMOUNT]);
        size_t errors = out->n_errors;
        if (s_date (cell [DATE], deposit.date) == -1)
            s_error (out, line, "row %d: the date must be YYYY-MM-DD or YYYY/MM/DD");
        if (amount <= 0)
            s_error (out, line, "row %d: the amount must be yen in digits, more than 0");
        if (s_copy (cell [PAYER], deposit.payer, sizeof deposit.payer) == -1 || !*deposit.payer)
            s_error (out, line, "row %d: the payer must be 1 to 48 characters");
        if (s_copy (cell [REFERENCE], deposit.reference, sizeof deposit.reference) == -1)
            s_error (out, line, "row %d: the reference must be at most 32 bytes");
        if (out->n_errors > errors)
            continue;
        snprintf (deposit.edi, sizeof deposit.edi, "%s", deposit.reference);
        deposit.amount = amount;
        out->deposits = realloc (out->deposits, (out->count + 1) * sizeof *out->deposits);
        assert (out->deposits);
        out->deposits [out->count++] = deposit;
        out->total += amount;
    }
    csv_reader_destroy (&reader);
    free (text);
    return out->n_errors? -1: 0;
}
