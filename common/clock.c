/* clock.c - the one place Kaiin reads time; business code takes "now" from the envelope */
#include "clock.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    time_t seconds = (time_t) (unix_ms / 1000);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    snprintf (buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
              (int) (unix_ms % 1000));
    return buf;
}
