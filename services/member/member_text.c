/* member_text.c - the member record's text rules: UTF-8 length, postal codes, prefectures, dates */
#include "member_text.h"
#include <stdio.h>
#include <string.h>

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
member_text_next (const unsigned char **text)
{
    const unsigned char *s = *text;
    long point, minimum;
    int extra;
    if (s [0] < 0x80)                { point = s [0]; extra = 0; minimum = 0; }
    else if ((s [0] & 0xE0) == 0xC0) { point = s [0] & 0x1F; extra = 1; minimum = 0x80; }
    else if ((s [0] & 0xF0) == 0xE0) { point = s [0] & 0x0F; extra = 2; minimum = 0x800; }
    else if ((s [0] & 0xF8) == 0xF0) { point = s [0] & 0x07; extra = 3; minimum = 0x10000; }
    else return -1;
    for (int i = 1; i <= extra; i++) {
        if ((s [i] & 0xC0) != 0x80)
            return -1;
        point = point << 6 | (s [i] & 0x3F);
    }
    if (point < minimum || point > 0x10FFFF || (point >= 0xD800 && point <= 0xDFFF))
        return -1;
    *text = s + extra + 1;
    return point;
}

long
member_text_length (const char *text, bool multiline)
{
    const unsigned char *cursor = (const unsigned char *) text;
    long count = 0;
    while (*cursor) {
        long point = member_text_next (&cursor);
        if (point < 0)
            return -1;
        bool allowed = multiline && (point == '\t' || point == '\n' || point == '\r');
        if ((point < 0x20 || point == 0x7F) && !allowed)
            return -1;
        count++;
    }
    return count;
}

/* Hyphens as people type them: ASCII, full-width, the dashes and minus, and the long vowel
   marks an IME gives for "-" in kana mode. */
static bool
s_is_dash (long point)
{
    return point == '-' || point == 0xFF0D || (point >= 0x2010 && point <= 0x2015)
        || point == 0x2212 || point == 0x30FC || point == 0xFF70;
}

int
member_text_postal_code (const char *text, char *out)
{
    const unsigned char *cursor = (const unsigned char *) text;
    char digits [8];
    int count = 0, dash_at = -1;
    while (*cursor) {
        long point = member_text_next (&cursor);
        if (point >= '0' && point <= '9')
            point -= '0';
        else
        if (point >= 0xFF10 && point <= 0xFF19)           /* full-width digits */
            point -= 0xFF10;
        else
        if (s_is_dash (point) && dash_at == -1) {
            dash_at = count;
            continue;
        }
        else
            return -1;
        if (count == 7)
            return -1;
        digits [count++] = (char) ('0' + point);
    }
    if (count != 7 || (dash_at != -1 && dash_at != 3))
        return -1;
    snprintf (out, 9, "%.3s-%.4s", digits, digits + 3);
    return 0;
}

bool
member_text_is_prefecture (const char *text)
{
    for (const char *const *prefecture = s_prefectures; *prefecture; prefecture++)
        if (strcmp (text, *prefecture) == 0)
            return true;
    return false;
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
