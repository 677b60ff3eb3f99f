/* filter.h - segments' filters: a JSON tree of and, or, not and conditions (field, op, value),
   checked, then compiled into a parameterised SQL condition over messaging's projection */
#ifndef KAIIN_MESSAGING_FILTER_H
#define KAIIN_MESSAGING_FILTER_H
#include "pb_json.h"
#include <jansson.h>
#include <stdint.h>

#define FILTER_DEPTH_MAX 6            /* and/or/not nested at most this deep */
#define FILTER_CONDITIONS_MAX 100
#define FILTER_ITEMS_MAX 100          /* values of an in, has_any or has_all */

/* A compiled filter: a condition over "members m left join member_facts f" in which every value
   is an item of one jsonb parameter, $1, given as params (JSON text: ["premium", 3]), and named
   by its place: ($1 ->> 0) as text, ($1 -> 0) as JSON. */
typedef struct {
    char *sql;
    char *params;
} filter_sql_t;

/* Checks filter (borrowed; the JSON a client gave under "filter") and compiles it, "within_days"
   counting back from now_ms. Returns 0 with out set (the caller calls filter_sql_clear), or -1
   with every bad node in errors, each named by its path from "filter" ("filter.and[1].op"),
   the reasons in Japanese when japanese and messaging's table of messages has them. */
int filter_compile (json_t *filter, int64_t now_ms, filter_sql_t *out, pb_json_errors_t *errors,
                    bool japanese);

/* Frees what filter_compile set. Nothing when it holds nothing. */
void filter_sql_clear (filter_sql_t *compiled);

#endif
