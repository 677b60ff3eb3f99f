/* replay.c - runs a fuzz target (tests/fuzz/fuzz_*.c) over the inputs kept in the repository
   without libFuzzer: each file named, or each file of each directory named, once. Built by
   make test-unit with the project's own compiler and flags, so that every input the fuzzers
   ever kept, and every crash they found, stays a test (under the sanitizers too). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Runs the target on the file at path: 0, or -1 when it cannot be read. */
static int
s_replay (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return -1;
    uint8_t *data = NULL;
    size_t size = 0, capacity = 0;
    for (;;) {
        if (size == capacity) {
            capacity = capacity? capacity * 2: 4096;
            data = realloc (data, capacity);
        }
        size_t got = fread (data + size, 1, capacity - size, file);
        if (got == 0)
            break;
        size += got;
    }
    fclose (file);
    LLVMFuzzerTestOneInput (data, size);
    free (data);
    return 0;
}

int
main (int argc, char **argv)
{
    int count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat (argv [i], &st) == -1) {
            fprintf (stderr, "%s: no such input\n", argv [i]);
            return 1;
        }
        if (!S_ISDIR (st.st_mode)) {
            count += s_replay (argv [i]) == 0;
            continue;
        }
        struct dirent **names;
        int n = scandir (argv [i], &names, NULL, alphasort);
        for (int j = 0; j < n; j++) {
            char path [4096];
            snprintf (path, sizeof path, "%s/%s", argv [i], names [j]->d_name);
            if (names [j]->d_name [0] != '.' && stat (path, &st) == 0 && S_ISREG (st.st_mode))
                count += s_replay (path) == 0;
            free (names [j]);
        }
        free (names);
    }
    printf ("%s: %d inputs replayed\n", argv [0], count);
    return 0;
}
