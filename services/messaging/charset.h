/* charset.h - mail text in ISO-2022-JP (JIS), for old Japanese mail clients: what it cannot
   carry is substituted as Japanese senders do (① → (1), ㈱ → (株), ｶﾅ → カナ), and 〓 (the geta
   mark) stands for a character with no substitute (髙, 𠮷) */
#ifndef KAIIN_MESSAGING_CHARSET_H
#define KAIIN_MESSAGING_CHARSET_H
#include <jansson.h>
#include <stddef.h>

/* Text (UTF-8) with every character ISO-2022-JP cannot carry substituted, as a new string
   (NULL only when out of memory). Each substitution not yet in substitutions (a JSON array,
   or NULL) is appended to it as "① → (1)". */
char *charset_jis_fit (const char *text, json_t *substitutions);

/* Text (UTF-8 that charset_jis_fit made) in ISO-2022-JP, as a new string of *size bytes;
   NULL when it cannot be converted. */
char *charset_jis_encode (const char *text, size_t *size);

/* Text (UTF-8 that charset_jis_fit made) as a header's raw value in ISO-2022-JP: RFC 2047
   "B" words of at most 75 characters, each beginning and ending in ASCII as Japanese clients
   expect, one a line (" =?ISO-2022-JP?B?…?=\n =?…?=\n"); a new string, NULL on failure. */
char *charset_jis_header (const char *text);

#endif
