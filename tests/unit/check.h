/* check.h - the unit tests' one assertion macro and their closing line */
#ifndef KAIIN_CHECK_H
#define KAIIN_CHECK_H
#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(condition) do { \
    if (condition) check_passed++; \
    else { check_failed++; fprintf (stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #condition); } \
} while (0)

/* Prints "N passed, N failed" and returns main's exit code. */
static inline int
check_report (const char *suite)
{
    printf ("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
    return check_failed? 1: 0;
}

#endif
