/* member_text.h - the member record's text rules: UTF-8 length, and the normal forms of what
   people type in Japan (katakana readings, phone numbers, postal codes, prefectures, dates in
   the Western or the Japanese calendar), one place for the API and the CSV import */
#ifndef KAIIN_MEMBER_TEXT_H
#define KAIIN_MEMBER_TEXT_H
#include <stdbool.h>
#include <stdint.h>

/* Counts the code points of text; -1 when it is not UTF-8 or holds control characters (with
   multiline, tab, CR and LF are allowed). */
long member_text_length (const char *text, bool multiline);

/* Returns text folded by Unicode NFKC (full-width letters, digits and signs to ASCII,
   half-width katakana to full-width), trimmed of spaces at both ends: a new string the caller
   frees, or NULL when text is not UTF-8. */
char *member_text_fold (const char *text);

/* A reading in katakana: text folded, hiragana turned into katakana (ゝゞ into ヽヾ). Returns a
   new string the caller frees, or NULL when text is not UTF-8. The result may still hold what
   is no kana: the caller checks it. */
char *member_text_kana (const char *text);

/* A phone number as typed: folded, and every dash-like hyphen (full-width, minus, the long
   vowel mark ー an IME gives for "-") written "-". Returns a new string the caller frees, or
   NULL when text is not UTF-8. The result may still be no phone number: the caller checks it. */
char *member_text_phone (const char *text);

/* Normalises a Japanese postal code: 7 digits, with or without a hyphen after the third, in
   half-width or full-width digits, any dash-like hyphen, after an optional 〒. Writes
   "123-4567" into out (at least 9 bytes) and returns 0, or returns -1 when text is not a
   postal code. */
int member_text_postal_code (const char *text, char *out);

/* The prefecture text names, in kanji with its suffix (東京都, 北海道, ...): written in full or
   without 都, 府 or 県 (東京, 大阪, 神奈川). Returns the name (static), or NULL when text names
   no prefecture. */
const char *member_text_prefecture (const char *text);

/* How member_text_birthday read its text. */
typedef enum {
    MEMBER_TEXT_DATE_OK,
    MEMBER_TEXT_DATE_UNREADABLE,    /* no date of a form it knows, or no such day */
    MEMBER_TEXT_DATE_OUTSIDE_ERA    /* a Japanese-calendar date its era did not reach */
} member_text_date_rc_t;

/* Reads a date as people write it in Japan: 1990-01-02, 1990/1/2, 1990.1.2, 1990年1月2日,
   full-width digits, or in the Japanese calendar from Meiji to Reiwa: 平成2年1月2日, 平成元年…,
   H2.1.2, H2/1/2 (M T S H R, either case). Writes "YYYY-MM-DD" into out (at least 11 bytes).
   A year of two digits without an era is refused (1990 or 平成2?). */
member_text_date_rc_t member_text_birthday (const char *text, char *out);

/* Reads a calendar date "YYYY-MM-DD" into days since 1970-01-01. Returns 0, or -1 when text is
   not a valid date of that form. */
int member_text_date (const char *text, int64_t *days);

/* The date in Japan (UTC+9) of the Unix time unix_ms, as days since 1970-01-01. */
int64_t member_text_japan_day (int64_t unix_ms);

#endif
