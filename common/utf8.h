/* utf8.h - UTF-8 as RFC 3629 has it: no overlong form, no surrogate, nothing past U+10FFFF.
   One decoder for every check of text the services are given. */
#ifndef KAIIN_UTF8_H
#define KAIIN_UTF8_H
#include <stdbool.h>
#include <stddef.h>

/* Decodes the code point at *text, never reading at or past end (NULL: text ends with a NUL,
   which decodes as 0), and advances past it. Returns -1, leaving *text, on a malformed,
   overlong or cut-off sequence, a surrogate or a value past U+10FFFF. */
long utf8_next (const unsigned char **text, const unsigned char *end);

/* Whether the length bytes at text are UTF-8 (NULs included). */
bool utf8_valid (const char *text, size_t length);

/* Copies text into out (size bytes, NUL-terminated), each byte that is not part of a UTF-8
   character written as %XX, as in a URI, so that what a client sent can be named in a reply
   that must be UTF-8; cut on a whole character or escape when out is full. Returns out. */
char *utf8_escape (const char *text, char *out, size_t size);

#endif
