/* clock.c - the one place Kaiin reads time; business code takes "now" from the envelope */
#include "clock.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ctype.h>

static int64_t s_offset_ms;             /* atomic: added to the wall clock in test mode */
static bool s_test_mode;
static pthread_once_t s_mode_once = PTHREAD_ONCE_INIT;

static void
s_read_mode (void)
{
    const char *mode = getenv ("KAIIN_TEST_MODE");
    s_test_mode = mode && strcmp (mode, "1") == 0;
}

bool
clock_test_mode (void)
{
    pthread_once (&s_mode_once, s_read_mode);
    return s_test_mode;
}

static int64_t
s_wall_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int64_t
clock_now_ms (void)
{
    return s_wall_ms () + __atomic_load_n (&s_offset_ms, __ATOMIC_ACQUIRE);
}

void
clock_set_ms (int64_t now_ms)
{
    if (!clock_test_mode ())
        return;
    int64_t wanted = now_ms - s_wall_ms ();
    int64_t offset = __atomic_load_n (&s_offset_ms, __ATOMIC_ACQUIRE);
    while (wanted > offset
       && !__atomic_compare_exchange_n (&s_offset_ms, &offset, wanted, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        ;                               /* another thread moved it: compare again */
}

int64_t
clock_mono_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

char *
clock_format_ms (int64_t unix_ms, char *buf, int size)
{
    /* Before 1970 too (what clock_parse_ms reads, this writes): the milliseconds are those
       after the second, which is rounded down, never a negative remainder ("11.-877"). */
    int64_t millis = unix_ms % 1000;
    time_t seconds = (time_t) (unix_ms / 1000 - (millis < 0));
    struct tm tm;
    gmtime_r (&seconds, &tm);
    snprintf (buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
              (int) (millis < 0? millis + 1000: millis));
    return buf;
}

/* Reads count digits of text into *number. 0 or -1. */
static int
s_digits (const char *text, int count, int *number)
{
    *number = 0;
    for (int i = 0; i < count; i++) {
        if (!isdigit ((unsigned char) text [i]))
            return -1;
        *number = *number * 10 + (text [i] - '0');
    }
    return 0;
}

int
clock_parse_ms (const char *text, int64_t *unix_ms)
{
    static const int month_days [] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    struct tm tm = { 0 };
    int year, month, millis = 0, digits = 0, offset_min = 0, hours, minutes;
    if (s_digits (text, 4, &year) || text [4] != '-' || s_digits (text + 5, 2, &month)
    ||  text [7] != '-' || s_digits (text + 8, 2, &tm.tm_mday) || toupper ((unsigned char) text [10]) != 'T'
    ||  s_digits (text + 11, 2, &tm.tm_hour) || text [13] != ':'
    ||  s_digits (text + 14, 2, &tm.tm_min) || text [16] != ':' || s_digits (text + 17, 2, &tm.tm_sec))
        return -1;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month < 1 || month > 12 || tm.tm_mday < 1
    ||  tm.tm_mday > month_days [month - 1] + (month == 2 && leap)
    ||  tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    const char *rest = text + 19;
    if (*rest == '.') {
        for (rest++; isdigit ((unsigned char) *rest); rest++, digits++)
            if (digits < 3)
                millis = millis * 10 + (*rest - '0');
        if (digits == 0 || digits > 9)
            return -1;
        for (; digits < 3; digits++)
            millis *= 10;
    }
    if (toupper ((unsigned char) *rest) == 'Z')
        rest++;
    else
    if ((*rest == '+' || *rest == '-') && s_digits (rest + 1, 2, &hours) == 0 && rest [3] == ':'
    &&  s_digits (rest + 4, 2, &minutes) == 0 && hours <= 23 && minutes <= 59) {
        offset_min = (hours * 60 + minutes) * (*rest == '-'? -1: 1);
        rest += 6;
    }
    else
        return -1;
    if (*rest)
        return -1;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_sec = tm.tm_sec == 60? 59: tm.tm_sec;          /* a leap second */
    *unix_ms = ((int64_t) timegm (&tm) - offset_min * 60) * 1000 + millis;
    return 0;
}
