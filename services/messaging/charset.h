/* charset.h - mail text in ISO-2022-JP (JIS), for old Japanese mail clients: what it cannot
   carry is substituted as Japanese senders do (① → (1), ㈱ → (株), ｶﾅ → カナ), and 〓 (the geta
   mark) stands for a character with no substitute (髙, 𠮷) */
#ifndef KAIIN_MESSAGING_CHARSET_H
#define KAIIN_MESSAGING_CHARSET_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Text (UTF-8) with every character ISO-2022-JP cannot carry substituted, as a new string
   (NULL only when out of memory). Each substitution not yet in substitutions (a JSON array,
   or NULL) is appended to it as "① → (1)". */
char *charset_jis_fit (const char *text, json_t *substitutions);

/* Text (UTF-8 that charset_jis_fit made) in ISO-2022-JP, as a new string of *size bytes;
   NULL when it cannot be converted. */
char *charset_jis_encode (const char *text, size_t *size);

/* Text (UTF-8; for ISO-2022-JP, what charset_jis_fit made) as a header's raw value in
   ISO-2022-JP (jis) or UTF-8: RFC 2047 "B" words of at most 75 characters, one a line
   (" =?ISO-2022-JP?B?…?=\n =?…?=\n"), each but the last of a multiple of 3 bytes (base64
   without "=" padding, which GMime's reader does not take between words); in ISO-2022-JP
   each beginning and ending in ASCII as Japanese clients expect. A new string, NULL on
   failure. */
char *charset_header (const char *text, bool jis);

#endif
