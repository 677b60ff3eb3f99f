/* member_text.h - the member record's text rules: UTF-8 length, postal codes, prefectures, dates */
#ifndef KAIIN_MEMBER_TEXT_H
#define KAIIN_MEMBER_TEXT_H
#include <stdbool.h>
#include <stdint.h>

/* Decodes the next UTF-8 code point of *text and advances past it; returns -1 (and leaves
   *text) on a malformed or overlong sequence. */
long member_text_next (const unsigned char **text);

/* Counts the code points of text; -1 when it is not UTF-8 or holds control characters (with
   multiline, tab, CR and LF are allowed). */
long member_text_length (const char *text, bool multiline);

/* Normalises a Japanese postal code: 7 digits, with or without a hyphen after the third, in
   half-width or full-width digits, any dash-like hyphen. Writes "123-4567" into out (at least
   9 bytes) and returns 0, or returns -1 when text is not a postal code. */
int member_text_postal_code (const char *text, char *out);

/* True when text is one of the 47 prefectures, written in kanji (東京都, 北海道, ...). */
bool member_text_is_prefecture (const char *text);

/* Reads a calendar date "YYYY-MM-DD" into days since 1970-01-01. Returns 0, or -1 when text is
   not a valid date of that form. */
int member_text_date (const char *text, int64_t *days);

/* The date in Japan (UTC+9) of the Unix time unix_ms, as days since 1970-01-01. */
int64_t member_text_japan_day (int64_t unix_ms);

#endif
