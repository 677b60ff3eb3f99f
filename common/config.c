/* config.c - settings from the environment; a missing required one stops start-up */
#include "config.h"
#include "log.h"
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
config_str (const char *name, const char *fallback)
{
    const char *value = getenv (name);
    if (value && *value)
        return value;
    if (!fallback) {
        log_error ("missing required setting '%s'", name);
        exit (2);
    }
    return fallback;
}

long
config_int (const char *name, long fallback, long min, long max)
{
    const char *value = getenv (name);
    if (!value || !*value)
        return fallback;
    char *end;
    errno = 0;
    long number = strtol (value, &end, 10);
    if (errno || *end || number < min || number > max) {
        log_error ("setting '%s' is '%s': expected an integer from %ld to %ld",
                   name, value, min, max);
        exit (2);
    }
    return number;
}

char *
config_secret (const char *name, const char *fallback)
{
    const char *value = getenv (name);
    if (value && *value)
        return strdup (value);
    char file_var [128];
    snprintf (file_var, sizeof file_var, "%s_FILE", name);
    const char *path = getenv (file_var);
    if (path && *path) {
        FILE *file = fopen (path, "r");
        char line [1024] = "";
        if (!file || !fgets (line, sizeof line, file)) {
            log_error ("cannot read '%s' named by '%s': %s", path, file_var, strerror (errno));
            exit (2);
        }
        fclose (file);
        line [strcspn (line, "\r\n")] = 0;
        return strdup (line);
    }
    if (!fallback) {
        log_error ("missing required setting '%s' (or '%s')", name, file_var);
        exit (2);
    }
    return strdup (fallback);
}

int
config_names (const char *list, char (*names) [32], int max)
{
    int count = 0;
    for (const char *cursor = list; *cursor && count < max; ) {
        size_t length = strcspn (cursor, ", \t\n");
        if (length > 0 && length < 32) {
            memcpy (names [count], cursor, length);
            names [count][length] = 0;
            bool seen = false;
            for (int j = 0; j < count && !seen; j++)
                seen = strcmp (names [j], names [count]) == 0;
            if (!seen)
                count++;
        }
        cursor += length;
        cursor += strspn (cursor, ", \t\n");
    }
    return count;
}
