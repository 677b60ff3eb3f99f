/* member_text.c - the member record's text rules: UTF-8 length, and the normal forms of what
   people type in Japan (katakana readings, phone numbers, postal codes, prefectures, dates in
   the Western or the Japanese calendar), one place for the API and the CSV import */
#include "member_text.h"
#include "utf8.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static const char *const s_prefectures [] = {
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県",
    "茨城県", "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県",
    "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県",
    "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県",
    "徳島県", "香川県", "愛媛県", "高知県",
    "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
    NULL
};

long
member_text_length (const char *text, bool multiline)
{
    const unsigned char *cursor = (const unsigned char *) text;
    long count = 0;
    while (*cursor) {
        long point = utf8_next (&cursor, NULL);
        if (point < 0)
            return -1;
        bool allowed = multiline && (point == '\t' || point == '\n' || point == '\r');
        if ((point < 0x20 || point == 0x7F) && !allowed)
            return -1;
        count++;
    }
    return count;
}

/* Hyphens as people type them: ASCII, the dashes and minus, and the long vowel mark an IME
   gives for "-" in kana mode (NFKC has already made the full-width and half-width ones ASCII
   and ー). */
static bool
s_is_dash (long point)
{
    return point == '-' || (point >= 0x2010 && point <= 0x2015) || point == 0x2212 || point == 0x30FC;
}

/* Appends code point to out (room for 4 bytes at *used is the caller's). */
static void
s_put_point (char *out, size_t *used, long point)
{
    *used += utf8proc_encode_char ((utf8proc_int32_t) point, (utf8proc_uint8_t *) out + *used);
}

char *
member_text_fold (const char *text)
{
    char *folded = (char *) utf8proc_NFKC ((const utf8proc_uint8_t *) text);
    if (!folded)
        return NULL;
    size_t start = strspn (folded, " "), length = strlen (folded);
    while (length > start && folded [length - 1] == ' ')
        length--;
    memmove (folded, folded + start, length - start);
    folded [length - start] = 0;
    return folded;
}

/* Folds text, then rewrites each code point with map (one code point for one). */
static char *
s_fold_mapped (const char *text, long (*map) (long point))
{
    char *folded = member_text_fold (text);
    if (!folded)
        return NULL;
    char *out = malloc (strlen (folded) + 1);   /* map keeps a code point's UTF-8 length or shortens it */
    if (!out) {
        free (folded);
        return NULL;
    }
    size_t used = 0;
    for (const unsigned char *cursor = (const unsigned char *) folded; *cursor; )
        s_put_point (out, &used, map (utf8_next (&cursor, NULL)));
    out [used] = 0;
    free (folded);
    return out;
}

/* ぁ..ゖ are ァ..ヶ less 0x60; ゝゞ are ヽヾ. */
static long
s_katakana_of (long point)
{
    if ((point >= 0x3041 && point <= 0x3096) || point == 0x309D || point == 0x309E)
        return point + 0x60;
    return point;
}

char *
member_text_kana (const char *text)
{
    return s_fold_mapped (text, s_katakana_of);
}

/* A dash keeps its 3 bytes in UTF-8 at most; "-" is one. */
static long
s_hyphen_of (long point)
{
    return s_is_dash (point)? '-': point;
}

char *
member_text_phone (const char *text)
{
    return s_fold_mapped (text, s_hyphen_of);
}

int
member_text_postal_code (const char *text, char *out)
{
    char *folded = member_text_phone (text);
    if (!folded)
        return -1;
    const char *cursor = folded;
    if (strncmp (cursor, "〒", 3) == 0)
        cursor += 3 + strspn (cursor + 3, " ");
    char digits [8];
    int count = 0, dash_at = -1, rc = -1;
    for (; *cursor; cursor++) {
        if (*cursor == '-' && dash_at == -1)
            dash_at = count;
        else
        if (*cursor >= '0' && *cursor <= '9' && count < 7)
            digits [count++] = *cursor;
        else
            goto done;
    }
    if (count == 7 && (dash_at == -1 || dash_at == 3)) {
        snprintf (out, 9, "%.3s-%.4s", digits, digits + 3);
        rc = 0;
    }
done:
    free (folded);
    return rc;
}

const char *
member_text_prefecture (const char *text)
{
    char *folded = member_text_fold (text);
    const char *found = NULL;
    size_t length = folded? strlen (folded): 0;
    for (const char *const *prefecture = s_prefectures; folded && *prefecture && !found; prefecture++) {
        size_t full = strlen (*prefecture);
        const char *suffix = *prefecture + full - 3;        /* 都, 府, 県 and 道: 3 bytes each */
        if (strcmp (folded, *prefecture) == 0
        ||  (length == full - 3 && strcmp (suffix, "道") != 0 && strncmp (folded, *prefecture, length) == 0))
            found = *prefecture;
    }
    free (folded);
    return found;
}

/* Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t
s_days_from_civil (int64_t year, int month, int day)
{
    year -= month <= 2;
    int64_t era = (year >= 0? year: year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month + (month > 2? -3: 9)) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

int
member_text_date (const char *text, int64_t *days)
{
    static const int month_days [] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (strlen (text) != 10 || text [4] != '-' || text [7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (text [i] < '0' || text [i] > '9'))
            return -1;
    int year = (text [0] - '0') * 1000 + (text [1] - '0') * 100 + (text [2] - '0') * 10 + (text [3] - '0');
    int month = (text [5] - '0') * 10 + (text [6] - '0');
    int day = (text [8] - '0') * 10 + (text [9] - '0');
    if (year < 1 || month < 1 || month > 12 || day < 1)
        return -1;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > month_days [month - 1] + (month == 2 && leap))
        return -1;
    *days = s_days_from_civil (year, month, day);
    return 0;
}

int64_t
member_text_japan_day (int64_t unix_ms)
{
    int64_t ms = unix_ms + 9 * 3600 * 1000LL;
    return ms >= 0? ms / 86400000: -((-ms + 86399999) / 86400000);
}

/* The eras of the Japanese calendar since the Gregorian one: year 1 (元年) of each is the
   Western year it began in, and its days run from first to last (Meiji's first: the Gregorian
   day its first year began on, 1868-01-25). */
static const struct {
    const char *name;
    char letter;
    int first_year;
    const char *first, *last;
} s_eras [] = {
    { "明治", 'M', 1868, "1868-01-25", "1912-07-29" },
    { "大正", 'T', 1912, "1912-07-30", "1926-12-24" },
    { "昭和", 'S', 1926, "1926-12-25", "1989-01-07" },
    { "平成", 'H', 1989, "1989-01-08", "2019-04-30" },
    { "令和", 'R', 2019, "2019-05-01", "9999-12-31" },
};

/* Reads 1 to max_digits digits at *cursor into *number. Returns how many, or -1 when there
   are none or more than max_digits. */
static int
s_read_number (const char **cursor, int max_digits, int *number)
{
    int digits = 0;
    *number = 0;
    while (**cursor >= '0' && **cursor <= '9') {
        if (++digits > max_digits)
            return -1;
        *number = *number * 10 + (*(*cursor)++ - '0');
    }
    return digits? digits: -1;
}

/* Skips the separator after a year, month or day: its kanji (年, 月, 日) or one of "/-.". */
static bool
s_skip_separator (const char **cursor, const char *kanji)
{
    if (strncmp (*cursor, kanji, strlen (kanji)) == 0)
        *cursor += strlen (kanji);
    else
    if (**cursor && strchr ("/-.", **cursor))
        (*cursor)++;
    else
        return false;
    return true;
}

/* The era *cursor begins with (its name, or its letter before a digit), advanced past it; -1. */
static int
s_read_era (const char **cursor)
{
    for (int era = 0; era < (int) (sizeof s_eras / sizeof s_eras [0]); era++) {
        size_t length = strlen (s_eras [era].name);
        if (strncmp (*cursor, s_eras [era].name, length) == 0) {
            *cursor += length;
            return era;
        }
        char letter = s_eras [era].letter;
        if (((*cursor) [0] == letter || (*cursor) [0] == letter - 'A' + 'a')
        &&  (*cursor) [1] >= '0' && (*cursor) [1] <= '9') {
            *cursor += 1;
            return era;
        }
    }
    return -1;
}

member_text_date_rc_t
member_text_birthday (const char *text, char *out)
{
    char *folded = member_text_fold (text);
    if (!folded)
        return MEMBER_TEXT_DATE_UNREADABLE;
    const char *cursor = folded;
    member_text_date_rc_t rc = MEMBER_TEXT_DATE_UNREADABLE;
    int era = s_read_era (&cursor), year, month, day, year_digits;
    if (era >= 0 && strncmp (cursor, "元", 3) == 0) {
        year = 1;
        cursor += 3;
    }
    else {
        year_digits = s_read_number (&cursor, era >= 0? 2: 4, &year);
        if (year_digits == -1 || (era < 0 && year_digits != 4) || (era >= 0 && year == 0))
            goto done;
    }
    if (!s_skip_separator (&cursor, "年")
    ||  s_read_number (&cursor, 2, &month) == -1 || !s_skip_separator (&cursor, "月")
    ||  s_read_number (&cursor, 2, &day) == -1)
        goto done;
    if (strcmp (cursor, "日") == 0)
        cursor += strlen ("日");
    if (*cursor)
        goto done;
    if (era >= 0)
        year += s_eras [era].first_year - 1;
    snprintf (out, 11, "%04u-%02u-%02u", (unsigned) year % 10000, (unsigned) month % 100, (unsigned) day % 100);
    int64_t days, first, last;
    if (member_text_date (out, &days) == -1)
        goto done;
    rc = MEMBER_TEXT_DATE_OK;
    if (era >= 0) {
        member_text_date (s_eras [era].first, &first);
        member_text_date (s_eras [era].last, &last);
        if (days < first || days > last)
            rc = MEMBER_TEXT_DATE_OUTSIDE_ERA;
    }
done:
    free (folded);
    return rc;
}
