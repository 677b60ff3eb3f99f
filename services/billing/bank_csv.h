/* bank_csv.h - bank statements as CSV (a net bank's 入出金明細 download): a header row naming
   the date, amount, payer and, optionally, reference columns in Japanese or English */
#ifndef KAIIN_BILLING_BANK_CSV_H
#define KAIIN_BILLING_BANK_CSV_H
#include "zengin.h"

/* Reads data (UTF-8, UTF-8 with BOM or CP932) into out as zengin_parse does (zeroed first;
   zengin_free it whatever the result). Columns by their header: 日付 / 勘定日 / 取引日 / date
   (YYYY-MM-DD or YYYY/M/D), 金額 / 入金額 / 入金金額 / amount (digits, with commas, ¥ or 円),
   振込依頼人名 / 依頼人名 / payer / payer_name, and optionally 摘要 / 参照番号 / 照会番号 /
   reference. Rows are numbered as a spreadsheet shows them (the header is row 1); each fault
   is named with its row: bytes that are neither UTF-8 nor CP932, a missing column, a date, an
   amount, an empty or too long payer. Returns 0 when none, -1 otherwise. */
int bank_csv_parse (const char *data, size_t size, zengin_t *out);

#endif
