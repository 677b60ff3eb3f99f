/* zengin.c - bank statements in the 全銀協 transfer-notice format (振込入金通知): 200-byte
   records, with or without CRLF, in JIS X 0201 (half-width katakana) as Shift_JIS carries it */
#include "zengin.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The data record's fields: offset and width (全銀協制定 振込入金通知, データ・レコード). */
#define F_REFERENCE  1, 6           /* 照会番号 */
#define F_DATE       7              /* 勘定日, 6 digits */
#define F_AMOUNT    19, 10          /* 金額 */
#define F_PAYER     49, 48          /* 振込依頼人名 */
#define F_CANCELED 127             /* 取消区分: '1' a cancellation of an earlier notice */
#define F_EDI      128, 20          /* EDI情報 */
/* The trailer's: 振込合計件数, 振込合計金額. */
#define F_COUNT      1, 6
#define F_TOTAL      7, 12

static void
s_error (zengin_t *out, int row, const char *fmt, long long first, long long second)
{
    if (out->n_errors < ZENGIN_MAX_ERRORS)
        out->errors [out->n_errors++] = (zengin_error_t) { row, fmt, first, second };
}

/* The digits of a field as a number, or -1 when it holds anything else. */
static long long
s_number (const char *record, int offset, int width)
{
    long long value = 0;
    for (int i = offset; i < offset + width; i++) {
        if (record [i] < '0' || record [i] > '9')
            return -1;
        value = value * 10 + (record [i] - '0');
    }
    return value;
}

/* A field of half-width characters into UTF-8, the trailing spaces dropped: ASCII as it is,
   JIS X 0201 katakana (0xA1-0xDF) as U+FF61-U+FF9F. Anything else (a Shift_JIS lead byte, a
   control) is not what the format allows: -1. */
static int
s_text (const char *record, int offset, int width, char *out)
{
    int end = offset + width;
    while (end > offset && record [end - 1] == ' ')
        end--;
    size_t used = 0;
    for (int i = offset; i < end; i++) {
        unsigned char c = (unsigned char) record [i];
        if (c >= 0x20 && c < 0x7F)
            out [used++] = (char) c;
        else
        if (c >= 0xA1 && c <= 0xDF) {
            unsigned point = 0xFF61 + (c - 0xA1);
            out [used++] = (char) (0xE0 | point >> 12);
            out [used++] = (char) (0x80 | (point >> 6 & 0x3F));
            out [used++] = (char) (0x80 | (point & 0x3F));
        }
        else
            return -1;
    }
    out [used] = 0;
    return 0;
}

/* YYMMDD into YYYY-MM-DD; -1 when it is no date. */
static int
s_date (const char *record, int offset, int reiwa_max, char out [11])
{
    long long yymmdd = s_number (record, offset, 6);
    if (yymmdd < 0)
        return -1;
    int yy = (int) (yymmdd / 10000), month = (int) (yymmdd / 100 % 100), day = (int) (yymmdd % 100);
    int year = yy >= 1 && yy <= reiwa_max? 2018 + yy: 2000 + yy;
    static const int days [] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if (month < 1 || month > 12 || day < 1 || day > days [month - 1] || (month == 2 && day == 29 && !leap))
        return -1;
    snprintf (out, 11, "%04u-%02u-%02u", (unsigned) year % 10000u, (unsigned) month % 100u, (unsigned) day % 100u);
    return 0;
}

/* The records of data: 200 bytes each, every one followed by CRLF (or LF) or none. NULL when
   the file is not made of such records. */
static const char *
s_record (const char *data, size_t size, size_t *at)
{
    if (*at + ZENGIN_RECORD > size)
        return NULL;
    const char *record = data + *at;
    *at += ZENGIN_RECORD;
    if (*at < size && data [*at] == '\r')
        (*at)++;
    if (*at < size && data [*at] == '\n')
        (*at)++;
    return record;
}

bool
zengin_detect (const char *data, size_t size)
{
    return size >= ZENGIN_RECORD && data [0] == '1' && data [1] == '0' && data [2] == '1';
}

static void
s_data_record (const char *record, int row, int reiwa_max, zengin_t *out)
{
    zengin_deposit_t deposit = { .row = row };
    long long amount = s_number (record, F_AMOUNT);
    bool good = true;
    if (record [F_CANCELED] == '1') {
        s_error (out, row, "row %d: a cancellation (取消区分 1) is not read: unassign or ignore its deposit by hand",
                 0, 0);
        return;
    }
    if (s_number (record, F_REFERENCE) < 0 || amount < 0) {
        s_error (out, row, "row %d: 照会番号 and 金額 must be digits", 0, 0);
        good = false;
    }
    else
    if (amount == 0) {
        s_error (out, row, "row %d: a deposit of 0 yen", 0, 0);
        good = false;
    }
    if (s_date (record, F_DATE, reiwa_max, deposit.date) == -1) {
        s_error (out, row, "row %d: 勘定日 is not a date (YYMMDD)", 0, 0);
        good = false;
    }
    if (s_text (record, F_PAYER, deposit.payer) == -1 || s_text (record, F_EDI, deposit.edi) == -1) {
        s_error (out, row, "row %d: the payer's name is not half-width katakana in Shift_JIS (broken encoding?)", 0, 0);
        good = false;
    }
    else
    if (!*deposit.payer) {
        s_error (out, row, "row %d: 振込依頼人名 is empty", 0, 0);
        good = false;
    }
    if (!good)
        return;
    memcpy (deposit.reference, record + 1, 6);
    deposit.amount = amount;
    out->deposits = realloc (out->deposits, (out->count + 1) * sizeof *out->deposits);
    assert (out->deposits);
    out->deposits [out->count++] = deposit;
    out->total += amount;
}

int
zengin_parse (const char *data, size_t size, int reiwa_max, zengin_t *out)
{
    memset (out, 0, sizeof *out);
    size_t at = 0;
    int row = 0, data_rows = 0;
    bool header = false, trailer = false, end = false;
    const char *record;
    while ((record = s_record (data, size, &at))) {
        row++;
        char kind = record [0];
        if (row == 1 && kind != '1') {
            s_error (out, row, "row %d: the file must begin with a header record (データ区分 1)", 0, 0);
            return -1;
        }
        if (end) {
            s_error (out, row, "row %d: a record after the end record", 0, 0);
            break;
        }
        if (kind == '1')
            header = true;
        else
        if (kind == '2') {
            data_rows += record [F_CANCELED] != '1';    /* the trailer counts the transfers alone */
            if (trailer)
                s_error (out, row, "row %d: a data record after the trailer", 0, 0);
            s_data_record (record, row, reiwa_max, out);
        }
        else
        if (kind == '8') {
            long long count = s_number (record, F_COUNT), total = s_number (record, F_TOTAL);
            trailer = true;
            if (count != data_rows)
                s_error (out, row, "row %d: the trailer counts %lld deposits, the file has %lld", count, data_rows);
            long long sum = 0;
            for (size_t i = 0; i < out->count; i++)
                sum += out->deposits [i].amount;
            if (total != sum && out->count == (size_t) data_rows)
                s_error (out, row, "row %d: the trailer's total is %lld yen, the deposits come to %lld", total, sum);
        }
        else
        if (kind == '9')
            end = true;
        else
            s_error (out, row, "row %d: unknown record type (データ区分 1, 2, 8 or 9)", 0, 0);
    }
    if (at < size)
        s_error (out, row + 1, "row %d: not a record of 200 bytes", 0, 0);
    else
    if (!header || !trailer || !end)
        s_error (out, row, "row %d: the file ends without its trailer and end records", 0, 0);
    return out->n_errors? -1: 0;
}

void
zengin_free (zengin_t *zengin)
{
    free (zengin->deposits);
    zengin->deposits = NULL;
    zengin->count = 0;
}
