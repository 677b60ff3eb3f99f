/* log.h - JSON-lines logging to stderr, each line carrying the current request id */
#ifndef KAIIN_LOG_H
#define KAIIN_LOG_H

/* Names the process in every line ("gateway", "member"). Call once, first thing in main. */
void log_init (const char *process);

/* Sets the request id for this thread's following lines; NULL clears it. The string is copied. */
void log_set_request_id (const char *request_id);

/* Each writes one line {"ts","level","proc","rid","msg"}. log_error returns -1 so that
   "return log_error (...)" reads as the failure it reports. */
int log_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void log_warn (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void log_info (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void log_debug (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* An info line with fields of its own beside ts, level, proc, rid and msg (an access log's
   method, route, status...): fields is a JSON object, taken over (decref'd). */
struct json_t;
void log_info_fields (struct json_t *fields, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

#endif
