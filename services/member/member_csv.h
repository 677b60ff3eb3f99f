/* member_csv.h - the columns of a member CSV file: the names an import reads (Japanese,
   English and the usual variants), yes/no cells and lists of tags */
#ifndef KAIIN_MEMBER_CSV_H
#define KAIIN_MEMBER_CSV_H
#include <stdbool.h>
#include <stddef.h>

/* The columns Kaiin reads and writes: the first name of each is what exports write in
   Japanese, the English key what they write with english_headers; both and the other
   spellings are read. */
typedef enum {
    COL_EMAIL, COL_NAME, COL_NAME_KANA, COL_PHONE, COL_BIRTHDAY, COL_POSTAL_CODE, COL_PREFECTURE,
    COL_ADDRESS, COL_RANK, COL_TAGS, COL_NOTE, COL_OPT_IN, COL_COUNT
} member_csv_column_t;

#define COL_IGNORED (-2)

/* Which column a header names, COL_IGNORED for one of the export's read-only columns (Kaiin
   sets them itself), or -1. Surrounding spaces, full-width parentheses and the letter case of
   English names do not matter. */
int member_csv_column_of (const char *header);

/* Reads a yes/no cell: 1, 0, or -1 when it is neither. */
int member_csv_yes_no (const char *text);

/* The word an export writes for value (a status, or "yes"/"no" of the consent column): in
   Japanese with japanese (free 無料会員, paid 有料会員, withdrawn 退会済み, yes はい, no いいえ;
   member_csv_yes_no reads both back), else value itself. Borrowed. */
const char *member_csv_word (const char *value, bool japanese);

/* Splits a tags cell at commas, 、 or semicolons into at most max tags, trimmed of spaces
   (borrowed pointers into copy, which it cuts). Returns how many. */
size_t member_csv_split_tags (char *copy, char **tags, size_t max);

#endif
