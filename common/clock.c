/* clock.c - the one place Kaiin reads time; business code takes "now" from the envelope */
#include "clock.h"
#include <stdio.h>
#include <time.h>

int64_t
clock_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
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
    time_t seconds = (time_t) (unix_ms / 1000);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    snprintf (buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
              (int) (unix_ms % 1000));
    return buf;
}
