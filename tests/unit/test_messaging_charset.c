/* test_messaging_charset.c - mail text in ISO-2022-JP: the substitutes for what it cannot
   carry, the 7-bit bytes, and headers as "B" words that each stand alone (charset.c included) */
#include "check.h"
#include "../../services/messaging/charset.c"

/* text fitted, compared with expected; the substitutions made compared with the JSON list. */
static bool
s_fits (const char *text, const char *expected, const char *substitutions_json)
{
    json_t *substitutions = json_array ();
    char *out = charset_jis_fit (text, substitutions);
    char *made = json_dumps (substitutions, JSON_COMPACT);
    bool same = out && strcmp (out, expected) == 0 && strcmp (made, substitutions_json) == 0;
    if (!same)
        fprintf (stderr, "fitted '%s' %s, expected '%s' %s\n", out, made, expected, substitutions_json);
    free (out);
    free (made);
    json_decref (substitutions);
    return same;
}

/* The text one "=?ISO-2022-JP?B?…?=" word holds, in UTF-8, into out. */
static void
s_word_text (const char *word, size_t length, char *out, size_t size)
{
    const char *prefix = "=?ISO-2022-JP?B?";
    char base64 [80] = "";
    unsigned char jis [64] = "";
    size_t inner = length - strlen (prefix) - 2;
    memcpy (base64, word + strlen (prefix), inner);
    int decoded = EVP_DecodeBlock (jis, (const unsigned char *) base64, (int) inner);
    size_t padding = inner >= 2 && base64 [inner - 1] == '='? (base64 [inner - 2] == '='? 2: 1): 0;
    iconv_t cd = iconv_open ("UTF-8", "ISO-2022-JP");
    s_convert (cd, (const char *) jis, (size_t) decoded - padding, out, size);
    iconv_close (cd);
}

int
main (void)
{
    /* 機種依存文字 and half-width kana get their usual substitutes; 髙 (not in JIS X 0208) 〓;
       each substitution is listed once */
    CHECK (s_fits ("①㈱ｶﾅ髙橋 abc ①", "(1)(株)カナ〓橋 abc (1)",
                   "[\"① → (1)\",\"㈱ → (株)\",\"ｶ → カ\",\"ﾅ → ナ\",\"髙 → 〓\"]"));
    CHECK (s_fits ("会員サポート 2,200円", "会員サポート 2,200円", "[]"));
    CHECK (s_fits ("", "", "[]"));
    CHECK (s_fits ("𠮷野家", "〓野家", "[\"𠮷 → 〓\"]"));

    /* 漢 is 0x34 0x41 in JIS X 0208, between ESC $ B and ESC ( B */
    size_t size = 0;
    char *bytes = charset_jis_encode ("漢a", &size);
    CHECK (bytes && size == 9 && memcmp (bytes, "\x1b$B4A\x1b(Ba", 9) == 0);
    free (bytes);
    CHECK (charset_jis_encode ("髙", &size) == NULL);     /* not fitted first: refused */

    /* 40 kanji: a word carries 42 bytes of JIS, 3 + 2 × 18 + 3 of them, so 18, 18 and 4 */
    char subject [40 * 3 + 1] = "";
    for (int i = 0; i < 40; i++)
        strcat (subject, "漢");
    char *header = charset_header (subject, true);
    CHECK (header && header [0] == ' ' && header [strlen (header) - 1] == '\n');
    int words = 0;
    char joined [256] = "";
    for (const char *word = header? strstr (header, "=?"): NULL; word; word = strstr (word + 2, "=?")) {
        const char *end = strstr (word, "?=\n");
        size_t length = (size_t) (end + 2 - word);
        char text [128];
        s_word_text (word, length, text, sizeof text);
        CHECK (length <= 75 && strncmp (word, "=?ISO-2022-JP?B?", 16) == 0);
        CHECK (strlen (text) == (words < 2? 18: 4) * 3);
        strcat (joined, text);
        words++;
        word = end;
    }
    CHECK (words == 3 && strcmp (joined, subject) == 0);
    free (header);
    return check_report ("messaging_charset");
}
