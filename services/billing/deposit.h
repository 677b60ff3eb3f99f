/* deposit.h - bank-transfer reconciliation (消込): bank statements imported, each deposit
   matched to an open invoice by its number or by the payer's kana and the amount, and what a
   person decides for the rest (assign, unassign, ignore), every step kept in deposit_events */
#ifndef KAIIN_BILLING_DEPOSIT_H
#define KAIIN_BILLING_DEPOSIT_H
#include "billing.h"

void deposit_prepare (pg_t *db);

/* The text folded as payers' names are compared, into a new string the caller frees (NULL
   when text is not UTF-8): NFKC (half-width katakana made full-width, ﾀﾞ one letter),
   hiragana made katakana, small kana made large (banks write ﾂ for ッ), no spaces. */
char *deposit_fold_kana (const char *text);

/* BankStatementImport: the file read (a refused file: 400 naming each faulty row in the
   field "file"), a statement imported before 409; each deposit stored, matched and applied
   (a dry run does the same in a transaction it rolls back). DepositList, DepositGet;
   DepositAction: assign | unassign | ignore. */
svc_handler_fn deposit_api_import, deposit_api_list, deposit_api_get, deposit_api_action;

#endif
