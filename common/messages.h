/* messages.h - the sentences a client reads, in English and in Japanese: the gateway's
   problems and the runtime's messages and field reasons, and the tables services add */
#ifndef KAIIN_MESSAGES_H
#define KAIIN_MESSAGES_H
#include <stdbool.h>

/* A sentence as the code writes it (the key), its Japanese, with the same printf conversions
   in the same order, and its code: the stable snake_case name a client matches on (problem+json
   "code", docs/errors.md), which never changes when the words do. One code per meaning:
   entries share one only when they say the same thing (tests/unit/test_messages.c checks). */
typedef struct {
    const char *english, *japanese, *code;
} messages_entry_t;

/* Adds a service's own table (ended by an entry of NULLs), consulted after the runtime's. */
void messages_add (const messages_entry_t *table);

/* The Japanese of english (a message, or a printf format whose Japanese takes the same
   arguments in the same order), or NULL when the table has none. Borrowed, static. */
const char *messages_japanese (const char *english);

/* The code of english (a message or printf format as the code writes it), or NULL when no
   table has it. Borrowed, static. */
const char *messages_code (const char *english);

/* What to write for english: its Japanese when japanese and the table has it, else english. */
const char *messages_say (bool japanese, const char *english);

/* True when an Accept-Language header value prefers Japanese: of the languages it names, the
   one with the highest q (the first of equals) is "ja" or "ja-…". NULL or "" is English. */
bool messages_prefer_japanese (const char *accept_language);

#endif
