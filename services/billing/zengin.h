/* zengin.h - bank statements in the 全銀協 transfer-notice format (振込入金通知): 200-byte
   records, with or without CRLF, in JIS X 0201 (half-width katakana) as Shift_JIS carries it */
#ifndef KAIIN_BILLING_ZENGIN_H
#define KAIIN_BILLING_ZENGIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZENGIN_RECORD     200
#define ZENGIN_MAX_ERRORS 20

/* One data record (データ区分 2): a deposit (bank_csv.c reads a CSV statement's rows into the
   same shape). */
typedef struct {
    int row;                        /* the record's place in the file, the header being 1 */
    char reference [33];            /* 照会番号, the bank's number of the deposit */
    char date [11];                 /* 勘定日 as YYYY-MM-DD (Western calendar) */
    int64_t amount;                 /* 金額 (yen) */
    char payer [48 * 3 + 1];        /* 振込依頼人名 in UTF-8 (half-width katakana as sent),
                                       without the padding */
    char edi [97];                  /* EDI情報 (a CSV's 摘要), without the padding */
} zengin_deposit_t;

/* What is wrong with a record: fmt a sentence of the table of messages taking the row (%d)
   and up to two numbers (%lld), named first and second. */
typedef struct {
    int row;
    const char *fmt;
    long long first, second;
} zengin_error_t;

typedef struct {
    zengin_deposit_t *deposits;     /* owned (zengin_free) */
    size_t count;
    int64_t total;                  /* the deposits' amounts summed */
    zengin_error_t errors [ZENGIN_MAX_ERRORS];
    size_t n_errors;                /* 0: the file is whole and its trailer agrees */
} zengin_t;

/* Whether data looks like a Zengin file: its first record is a header of 振込入金通知 (1, 01). */
bool zengin_detect (const char *data, size_t size);

/* Reads data into out (zeroed first; zengin_free it whatever the result). Dates YYMMDD are
   read as 令和 (2018 + YY) when YY <= reiwa_max, else as 20YY: banks send either, as the
   format allows. Every record's faults are listed (up to ZENGIN_MAX_ERRORS): a record not
   200 bytes, an unknown データ区分, a field that is not digits, a name that is not
   half-width katakana, letters and digits (broken encoding), a date that is no date, a
   cancellation (取消区分 1: not read, a person undoes its deposit), a
   missing header, trailer or end record, and a trailer whose count or total does not agree
   with the data records. Returns 0 when none, -1 otherwise. */
int zengin_parse (const char *data, size_t size, int reiwa_max, zengin_t *out);

void zengin_free (zengin_t *zengin);

#endif
