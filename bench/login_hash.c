/* login_hash.c - times one argon2id hash with the parameters members' and staff passwords
   use (m=19456 KiB, t=2, p=1): the cost of every login attempt that reaches the service */
#include <argon2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000.0 + now.tv_nsec / 1e6;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y;
}

int
main (int argc, char **argv)
{
    int runs = argc > 1? atoi (argv [1]): 20;
    if (runs < 1 || runs > 1000)
        runs = 20;
    const char *password = "correct horse battery staple";
    uint8_t salt [16] = "kaiin-bench-salt";
    char encoded [128];
    double *times = calloc (runs, sizeof *times);
    if (!times)
        return 1;
    for (int i = 0; i < runs; i++) {
        double start = s_now_ms ();
        if (argon2id_hash_encoded (2, 19456, 1, password, strlen (password), salt, sizeof salt, 32,
                                   encoded, sizeof encoded) != ARGON2_OK)
            return 1;
        times [i] = s_now_ms () - start;
    }
    double start = s_now_ms ();
    int verified = argon2id_verify (encoded, password, strlen (password)) == ARGON2_OK;
    double verify = s_now_ms () - start;
    qsort (times, runs, sizeof *times, s_compare);
    printf ("argon2id m=19456 t=2 p=1: %d hashes, min %.1f ms, median %.1f ms, max %.1f ms; "
            "one verify %.1f ms (%s)\n", runs, times [0], times [runs / 2], times [runs - 1],
            verify, verified? "ok": "FAILED");
    free (times);
    return verified? 0: 1;
}
