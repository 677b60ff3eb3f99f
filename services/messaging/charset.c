/* charset.c - mail text in ISO-2022-JP, by glibc's iconv: its transliteration gives the
   substitutes Japanese senders use for 機種依存文字 (① → (1), ㈱ → (株), Ⅲ → III, ｶﾅ → カナ);
   a character with none becomes 〓 */
#include "charset.h"
#include <openssl/evp.h>
#include <iconv.h>
#include <locale.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define GETA "\xe3\x80\x93"             /* 〓, what stands for a character with no substitute */
#define SUBSTITUTE_MAX 16               /* bytes of one character's substitute, in UTF-8 */

/* Converts in (size bytes) with cd into out (room bytes, NUL-terminated), resetting cd's
   shift state first and ending in its initial state. Returns the bytes written, or -1. */
static long
s_convert (iconv_t cd, const char *in, size_t size, char *out, size_t room)
{
    iconv (cd, NULL, NULL, NULL, NULL);
    char *from = (char *) in, *to = out;
    size_t left = size, free_room = room - 1;
    if (iconv (cd, &from, &left, &to, &free_room) == (size_t) -1
    ||  iconv (cd, NULL, NULL, &to, &free_room) == (size_t) -1)
        return -1;
    *to = 0;
    return to - out;
}

/* The bytes of the UTF-8 character text starts with (1 for a stray byte). */
static size_t
s_char_length (const char *text)
{
    unsigned char lead = (unsigned char) *text;
    size_t length = lead < 0x80? 1: lead >= 0xF0? 4: lead >= 0xE0? 3: lead >= 0xC0? 2: 1;
    for (size_t i = 1; i < length; i++)
        if (((unsigned char) text [i] & 0xC0) != 0x80)
            return 1;
    return length;
}

/* Appends length bytes of text to *out (size *used, room *room). 0 or -1. */
static int
s_append (char **out, size_t *used, size_t *room, const char *text, size_t length)
{
    if (*used + length + 1 > *room) {
        size_t grown = (*room + length + 1) * 2;
        char *bigger = realloc (*out, grown);
        if (!bigger)
            return -1;
        *out = bigger;
        *room = grown;
    }
    memcpy (*out + *used, text, length);
    *used += length;
    (*out) [*used] = 0;
    return 0;
}

char *
charset_jis_fit (const char *text, json_t *substitutions)
{
    /* glibc transliterates by the tables of the thread's locale: C.UTF-8's hold the CJK ones
       (㈱, ㌔, half-width kana); without it (the "C" a service runs in) those become 〓 */
    locale_t tables = newlocale (LC_CTYPE_MASK, "C.UTF-8", (locale_t) 0);
    locale_t before = tables? uselocale (tables): (locale_t) 0;
    iconv_t strict = iconv_open ("ISO-2022-JP", "UTF-8");
    iconv_t translit = iconv_open ("ISO-2022-JP//TRANSLIT", "UTF-8");
    iconv_t back = iconv_open ("UTF-8", "ISO-2022-JP");
    size_t used = 0, room = strlen (text) + 1;
    char *out = malloc (room);
    bool failed = !out || strict == (iconv_t) -1 || translit == (iconv_t) -1 || back == (iconv_t) -1;
    if (out)
        *out = 0;
    for (const char *at = text; *at && !failed; ) {
        size_t length = s_char_length (at);
        char jis [64], substitute [SUBSTITUTE_MAX + 1] = GETA;
        if ((unsigned char) *at < 0x80 || s_convert (strict, at, length, jis, sizeof jis) >= 0) {
            failed = s_append (&out, &used, &room, at, length) == -1;
            at += length;
            continue;
        }
        char utf8 [64];
        if (s_convert (translit, at, length, jis, sizeof jis) >= 0
        &&  s_convert (back, jis, strlen (jis), utf8, sizeof utf8) > 0
        &&  !strchr (utf8, '?') && strlen (utf8) <= SUBSTITUTE_MAX)
            strcpy (substitute, utf8);
        failed = s_append (&out, &used, &room, substitute, strlen (substitute)) == -1;
        if (substitutions) {
            char pair [80];
            snprintf (pair, sizeof pair, "%.*s → %s", (int) length, at, substitute);
            bool known = false;
            size_t i;
            json_t *item;
            json_array_foreach (substitutions, i, item)
                known |= strcmp (json_string_value (item), pair) == 0;
            if (!known)
                json_array_append_new (substitutions, json_string (pair));
        }
        at += length;
    }
    if (strict != (iconv_t) -1)
        iconv_close (strict);
    if (translit != (iconv_t) -1)
        iconv_close (translit);
    if (back != (iconv_t) -1)
        iconv_close (back);
    if (tables) {
        uselocale (before);
        freelocale (tables);
    }
    if (failed) {
        free (out);
        return NULL;
    }
    return out;
}

char *
charset_jis_encode (const char *text, size_t *size)
{
    iconv_t cd = iconv_open ("ISO-2022-JP", "UTF-8");
    if (cd == (iconv_t) -1)
        return NULL;
    size_t room = strlen (text) * 3 + 16;     /* at worst "a漢a漢": 4 bytes become 9 (a kanji's
                                                 2 and the escapes in and out of JIS, 3 each) */
    char *out = malloc (room);
    long written = out? s_convert (cd, text, strlen (text), out, room): -1;
    iconv_close (cd);
    if (written < 0) {
        free (out);
        return NULL;
    }
    *size = (size_t) written;
    return out;
}

/* RFC 2047's limit of an encoded word, and what "=?ISO-2022-JP?B?" or "=?UTF-8?B?" and "?="
   take of it: the bytes one word carries, base64 in the rest. */
#define WORD_MAX 75
#define WORD_BYTES(charset) ((WORD_MAX - (int) strlen (charset) - 7) / 4 * 3)

/* text's first size bytes in the charset of a header: ISO-2022-JP (jis), else UTF-8 as it is. */
static char *
s_header_bytes (const char *text, size_t size, bool jis, size_t *length)
{
    char *candidate = strndup (text, size);
    char *bytes = candidate && jis? charset_jis_encode (candidate, length): candidate;
    if (bytes == candidate)
        *length = size;
    else
        free (candidate);
    return bytes;
}

char *
charset_header (const char *text, bool jis)
{
    const char *charset = jis? "ISO-2022-JP": "UTF-8";
    const size_t word_bytes = (size_t) WORD_BYTES (charset);
    /* At most one word a character, each " =?ISO-2022-JP?B?" "?=\n" (21 bytes) around the
       base64 (4/3, padded) of at most 8 JIS bytes a character (escapes included) -- 40 bytes
       a character of UTF-8 is room for both. A single short word did not fit before
       (tests/fuzz/fuzz_mime.c found "カ" cut to "…KEI=?"). */
    size_t room = strlen (text) * 40 + 64, used = 0;
    char *out = malloc (room);
    if (!out)
        return NULL;
    out [0] = 0;
    for (const char *at = text; *at; ) {
        /* the longest run of whole characters that fits in one word */
        size_t take = 0, size = 0, whole = 0;
        char *encoded = NULL;
        while (at [take]) {
            size_t next = take + s_char_length (at + take), next_size;
            char *bytes = s_header_bytes (at, next, jis, &next_size);
            if (!bytes || (take && next_size > word_bytes)) {
                free (bytes);
                break;
            }
            free (encoded);
            encoded = bytes;
            take = next;
            size = next_size;
            whole = size % 3 == 0? take: whole;
        }
        /* A word another follows ends on a multiple of 3 bytes, so its base64 needs no "="
           padding: GMime (the parser of Evolution and Geary) loses every word after a padded
           one (tests/fuzz/fuzz_mime.c found it, in GMime's own UTF-8 words too). */
        if (encoded && at [take] && whole && whole < take) {
            free (encoded);
            encoded = s_header_bytes (at, whole, jis, &size);
            take = whole;
        }
        if (!encoded) {
            free (out);
            return NULL;
        }
        unsigned char base64 [WORD_MAX];
        EVP_EncodeBlock (base64, (const unsigned char *) encoded, (int) size);
        free (encoded);
        used += (size_t) snprintf (out + used, room - used, "%s=?%s?B?%s?=", used? "\n ": " ",
                                   charset, (const char *) base64);
        at += take;
    }
    snprintf (out + used, room - used, "\n");
    return out;
}
