/* problem.h - RFC 9457 problem details, and how service statuses map to HTTP */
#ifndef KAIIN_PROBLEM_H
#define KAIIN_PROBLEM_H
#include "envelope.pb-c.h"
#include <jansson.h>
#include <stdbool.h>

/* Returns a new problem object {type, title, status, code, detail, instance, request_id}; with
   japanese, the title and detail in Japanese where the table of messages (common/messages.h)
   has them. The type, status, code and the rest stay as they are for every language. code NULL
   or "": "" for now, its type's once problem_code_set is called. */
json_t *problem_new (unsigned int status, const char *code, const char *detail, const char *instance,
                     const char *request_id, bool japanese);

/* Sets problem's title to the one its type (/problems/<slug>) has in the table of problems, in
   Japanese with japanese: a problem raised with a type of its own (csrf, not-ready) is titled
   as its page is. Left as it is for a type the table has not. */
void problem_title_set (json_t *problem, bool japanese);

/* Sets problem's "code", when it has none, to its type's: the slug of /problems/<slug> in
   snake_case (not_found, invalid_request, import_refused), "error" for another type. Every
   problem so has a code, the same in every language. */
void problem_code_set (json_t *problem);

/* The page a problem type URI (/problems/<slug>) serves: what the problem means and what to do,
   as HTML in Japanese or English; the caller frees it. NULL for a slug no problem has. */
char *problem_page (const char *slug, bool japanese);

/* The HTTP status for a service's reply status. */
unsigned int problem_status_of (Kaiin__Status status);

#endif
