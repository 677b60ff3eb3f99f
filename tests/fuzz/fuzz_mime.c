/* fuzz_mime.c - the mail as the relay gets it (services/messaging/smtp.c: GMime's MIME, RFC
   2047 headers, ISO-2022-JP) from any sender name, subject, text and HTML parts and
   attachment name: every line ends in CRLF and fits SMTP's 998 bytes, and GMime's own parser
   reads back exactly the headers the builder set (a value never starts a header of its own),
   the subject, and in UTF-8 the parts' text as given.
   The input: a flags byte (1: ISO-2022-JP, 2: a PDF attached, 4: List-Unsubscribe), then the
   sender's name, subject, text and HTML parts and the PDF's name, split by NUL bytes; a value
   that is not UTF-8 is not a mail Kaiin makes (render.c's values and the templates are
   checked) and is skipped. Nor does Kaiin send control characters but tabs and line breaks in
   a part (templates are checked for them when saved, members' values too, and render.c's
   header mode takes line breaks out of a subject's values), so those become spaces here. */
#include "common/utf8.h"
#include "services/messaging/charset.h"
#include "services/messaging/smtp.h"
#include <gmime/gmime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { NAME, SUBJECT, TEXT, HTML, PDF_NAME, FIELDS };

/* The headers the builder writes at the top of a mail, in any order, each once. */
static const char *const HEADERS [] = {
    "From", "To", "Subject", "Message-Id", "Date", "MIME-Version", "Content-Type",
    "Content-Transfer-Encoding", "List-Unsubscribe", "List-Unsubscribe-Post", NULL
};

/* Text as the builder gets it: without control characters but, in a part (lines), tabs and
   line breaks. */
static void
s_no_controls (char *text, bool lines)
{
    for (char *at = text; *at; at++)
        if (((unsigned char) *at < 0x20 || *at == 0x7f) && !(lines && strchr ("\t\r\n", *at)))
            *at = ' ';
}

/* text with every white-space byte taken out: how a header folds and unfolds it is GMime's. */
static char *
s_squeezed (const char *text)
{
    char *out = malloc (strlen (text) + 1), *to = out;
    for (; *text; text++)
        if (!strchr (" \t\r\n", *text))
            *to++ = *text;
    *to = 0;
    return out;
}

static void
s_same_text (GMimeObject *part, const char *given)
{
    if (!GMIME_IS_TEXT_PART (part))
        abort ();
    char *text = g_mime_text_part_get_text (GMIME_TEXT_PART (part));
    char *a = s_squeezed (text), *b = s_squeezed (given);
    if (strcmp (a, b) != 0)
        abort ();                           /* a part's text did not come back */
    free (a);
    free (b);
    g_free (text);
}

static void
s_check_lines (const char *mime)
{
    size_t length = 0;
    for (const char *at = mime; *at; at++) {
        if (*at == '\n' && (at == mime || at [-1] != '\r'))
            abort ();                       /* a bare LF */
        if (*at == '\r' && at [1] != '\n')
            abort ();                       /* a bare CR */
        length = *at == '\n'? 0: length + 1;
        if (length > 998 + 1)
            abort ();                       /* longer than SMTP allows */
    }
}

static void
s_check_headers (GMimeMessage *message, bool reply_to)
{
    GMimeHeaderList *list = g_mime_object_get_header_list (GMIME_OBJECT (message));
    int count = g_mime_header_list_get_count (list), seen [16] = { 0 };
    for (int i = 0; i < count; i++) {
        const char *name = g_mime_header_get_name (g_mime_header_list_get_header_at (list, i));
        int known = -1;
        for (int k = 0; HEADERS [k] && known < 0; k++)
            if (g_ascii_strcasecmp (name, HEADERS [k]) == 0)
                known = k;
        if (known < 0 && !(reply_to && g_ascii_strcasecmp (name, "Reply-To") == 0))
            abort ();                       /* a header the builder did not write */
        if (known >= 0 && ++seen [known] > 1)
            abort ();                       /* one written twice */
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        g_mime_init ();
        ready = true;
    }
    if (size < 1)
        return 0;
    int flags = data [0];
    char *input = malloc (size), *field [FIELDS] = { 0 };
    memcpy (input, data + 1, size - 1);
    input [size - 1] = 0;
    char *at = input, *end = input + size - 1;
    for (int i = 0; i < FIELDS; i++) {
        field [i] = at;                     /* the fields past the input's end are "" */
        at += strlen (at);
        at += at < end;
        if (!utf8_valid (field [i], strlen (field [i]))) {
            free (input);
            return 0;
        }
    }
    for (int i = 0; i < FIELDS; i++)
        s_no_controls (field [i], i == TEXT || i == HTML);
    bool jis = flags & 1, pdf = flags & 2;
    char *fit [FIELDS] = { 0 };
    for (int i = 0; i < FIELDS; i++)
        fit [i] = jis? charset_jis_fit (field [i], NULL): strdup (field [i]);
    static const uint8_t PDF [] = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n";
    smtp_mail_t mail = {
        fit [NAME], "info@example.jp", flags & 8? "support@example.jp": "", "member@example.jp",
        fit [SUBJECT], fit [HTML], fit [TEXT], "m1.fuzz@example.jp",
        flags & 4? "https://example.jp/u/abc": NULL, 1764806400000,
        pdf? PDF: NULL, pdf? sizeof PDF - 1: 0, fit [PDF_NAME], jis, NULL, NULL
    };
    char *mime = smtp_build (&mail);
    if (!mime)
        abort ();
    s_check_lines (mime);
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer (mime, strlen (mime));
    GMimeParser *parser = g_mime_parser_new_with_stream (stream);
    GMimeMessage *message = g_mime_parser_construct_message (parser, NULL);
    if (!message)
        abort ();                           /* not a message GMime itself reads */
    s_check_headers (message, flags & 8);
    /* The subject read back. GMime's reader drops what follows an encoded word padded with
       "=" (charset.h): the builder pads none but where no split allows it (a word of "0" and
       then only 3-byte characters), and only then is the subject not compared. */
    const char *raw = strstr (mime, "\r\nSubject:"), *raw_end = raw? strstr (raw + 2, "\r\n"): NULL;
    while (raw_end && (raw_end [2] == ' ' || raw_end [2] == '\t'))
        raw_end = strstr (raw_end + 2, "\r\n");
    const char *padded = raw? strstr (raw, "=?=\r\n =?"): NULL;
    bool comparable = !padded || !raw_end || padded > raw_end;
    char *subject = s_squeezed (g_mime_message_get_subject (message)? g_mime_message_get_subject (message): "");
    char *given = s_squeezed (fit [SUBJECT]);
    if (comparable && strcmp (subject, given) != 0)
        abort ();                           /* the subject did not come back */
    free (subject);
    free (given);
    GMimeObject *body = g_mime_message_get_mime_part (message);
    if (pdf) {
        if (!GMIME_IS_MULTIPART (body) || g_mime_multipart_get_count (GMIME_MULTIPART (body)) != 2)
            abort ();
        body = g_mime_multipart_get_part (GMIME_MULTIPART (body), 0);
    }
    if (!jis) {
        if (*fit [HTML] && *fit [TEXT]) {
            if (!GMIME_IS_MULTIPART (body) || g_mime_multipart_get_count (GMIME_MULTIPART (body)) != 2)
                abort ();
            s_same_text (g_mime_multipart_get_part (GMIME_MULTIPART (body), 0), fit [TEXT]);
            s_same_text (g_mime_multipart_get_part (GMIME_MULTIPART (body), 1), fit [HTML]);
        }
        else
            s_same_text (body, *fit [HTML]? fit [HTML]: fit [TEXT]);
    }
    g_object_unref (message);
    g_object_unref (parser);
    g_object_unref (stream);
    free (mime);
    for (int i = 0; i < FIELDS; i++)
        free (fit [i]);
    free (input);
    return 0;
}
