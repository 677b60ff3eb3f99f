/* log.c - JSON-lines logging to stderr, each line carrying the current request id */
#include "log.h"
#include "clock.h"
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { LEVEL_DEBUG, LEVEL_INFO, LEVEL_WARN, LEVEL_ERROR };
static const char *s_level_names [] = { "debug", "info", "warn", "error" };

static char s_process [32] = "kaiin";
static int s_min_level = LEVEL_INFO;
static __thread char s_request_id [64];
static pthread_mutex_t s_write_lock = PTHREAD_MUTEX_INITIALIZER;

void
log_init (const char *process)
{
    snprintf (s_process, sizeof s_process, "%s", process);
    const char *level = getenv ("KAIIN_LOG_LEVEL");
    for (int i = 0; level && i <= LEVEL_ERROR; i++)
        if (strcasecmp (level, s_level_names [i]) == 0)
            s_min_level = i;
}

void
log_set_request_id (const char *request_id)
{
    snprintf (s_request_id, sizeof s_request_id, "%s", request_id? request_id: "");
}

static void
s_write_line (int level, json_t *fields, const char *fmt, va_list args)
{
    if (level < s_min_level) {
        json_decref (fields);
        return;
    }
    char message [2048];
    vsnprintf (message, sizeof message, fmt, args);

    char stamp [40];
    clock_format_ms (clock_now_ms (), stamp, sizeof stamp);

    json_t *line = json_pack ("{s:s, s:s, s:s, s:s}", "ts", stamp,
                              "level", s_level_names [level], "proc", s_process, "msg", "");
    /* The message may hold bytes that are not UTF-8 (a client's input); keep them visible. */
    json_object_set_new (line, "msg", json_stringn_nocheck (message, strlen (message)));
    if (*s_request_id)
        json_object_set_new (line, "rid", json_string (s_request_id));
    if (fields)
        json_object_update_missing (line, fields);
    json_decref (fields);
    char *text = json_dumps (line, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref (line);
    if (!text)
        return;
    pthread_mutex_lock (&s_write_lock);
    fprintf (stderr, "%s\n", text);
    pthread_mutex_unlock (&s_write_lock);
    free (text);
}

#define S_LOG_FN(fn, level) \
    void fn (const char *fmt, ...) \
    { va_list args; va_start (args, fmt); s_write_line (level, NULL, fmt, args); va_end (args); }

S_LOG_FN (log_warn, LEVEL_WARN)
S_LOG_FN (log_info, LEVEL_INFO)
S_LOG_FN (log_debug, LEVEL_DEBUG)

int
log_error (const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    s_write_line (LEVEL_ERROR, NULL, fmt, args);
    va_end (args);
    return -1;
}

void
log_info_fields (json_t *fields, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    s_write_line (LEVEL_INFO, fields, fmt, args);
    va_end (args);
}
