/* smtp.c - one mail built as MIME by GMime (UTF-8, RFC 2047 headers, multipart/alternative)
   and handed to the relay by libcurl's SMTP */
#include "smtp.h"
#include "charset.h"
#include "config.h"
#include "signer.h"
#include <assert.h>
#include <curl/curl.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 5000L
#define SEND_TIMEOUT_MS    30000L

static char s_url [300];
static bool s_starttls;
static const char *s_user;
static char *s_password;
static pthread_key_t s_handle;          /* each thread's libcurl handle: its connection to the
                                           relay stays open from one mail to the next */

static void
s_handle_free (void *curl)
{
    curl_easy_cleanup (curl);
}

void
smtp_configure (void)
{
    snprintf (s_url, sizeof s_url, "smtp://%s:%ld", config_str ("MESSAGING_SMTP_HOST", "127.0.0.1"),
              config_int ("MESSAGING_SMTP_PORT", 25, 1, 65535));
    s_starttls = config_int ("MESSAGING_SMTP_STARTTLS", 0, 0, 1) == 1;
    s_user = config_str ("MESSAGING_SMTP_USER", "");
    s_password = config_secret ("MESSAGING_SMTP_PASSWORD", "");
    g_mime_init ();
    curl_global_init (CURL_GLOBAL_DEFAULT);
    pthread_key_create (&s_handle, s_handle_free);
}

void
smtp_shutdown (void)
{
    CURL *curl = pthread_getspecific (s_handle);       /* the main thread's, if it sent */
    if (curl)
        curl_easy_cleanup (curl);
    pthread_key_delete (s_handle);
    curl_global_cleanup ();
    g_mime_shutdown ();
    free (s_password);
    s_password = NULL;
}

/* The longest line of text, in bytes. */
static size_t
s_longest_line (const char *text, size_t size)
{
    size_t longest = 0;
    for (const char *line = text, *end = text + size; line < end; ) {
        const char *newline = memchr (line, '\n', (size_t) (end - line));
        size_t length = (size_t) ((newline? newline: end) - line);
        longest = length > longest? length: longest;
        line += length + 1;
    }
    return longest;
}

/* text with every line break (CRLF, CR or LF) an LF, which the mail's DOS format writes as
   CRLF: a lone CR in 7bit text is no line end SMTP allows (tests/fuzz/fuzz_mime.c found one
   go out bare). A new string. */
static char *
s_lf_only (const char *text)
{
    char *out = malloc (strlen (text) + 1), *to = out;
    assert (out);
    for (; *text; text++)
        if (*text != '\r')
            *to++ = *text;
        else
        if (text [1] != '\n')
            *to++ = '\n';
    *to = 0;
    return out;
}

/* A text part of subtype ("plain", "html"): in UTF-8, base64 (safe for any line length); or
   in ISO-2022-JP, 7bit as Japanese mail has always been sent (base64 if a line is longer than
   SMTP allows). */
static GMimeObject *
s_part (const char *subtype, const char *text, bool jis)
{
    GMimeTextPart *part = g_mime_text_part_new_with_subtype (subtype);
    size_t size = 0;
    char *lines = jis? s_lf_only (text): NULL;
    char *encoded = jis? charset_jis_encode (lines, &size): NULL;
    free (lines);
    /* The part's bytes as they are: GMime's set_text would choose a charset of its own
       (ISO-8859-1 for "Café ©"), which the label set after it then misnamed
       (tests/fuzz/fuzz_mime.c found it). */
    const char *bytes = encoded? encoded: text;
    size = encoded? size: strlen (text);
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer (bytes, size);
    GMimeDataWrapper *content = g_mime_data_wrapper_new_with_stream (stream, GMIME_CONTENT_ENCODING_DEFAULT);
    g_mime_part_set_content (GMIME_PART (part), content);
    g_object_unref (content);
    g_object_unref (stream);
    g_mime_text_part_set_charset (part, encoded? "ISO-2022-JP": "utf-8");
    g_mime_part_set_content_encoding (GMIME_PART (part), encoded && s_longest_line (encoded, size) <= 998
                                      ? GMIME_CONTENT_ENCODING_7BIT: GMIME_CONTENT_ENCODING_BASE64);
    free (encoded);
    return GMIME_OBJECT (part);
}

/* A PDF as an attachment, base64, its name encoded as RFC 2231 says (a Japanese one too). */
static GMimeObject *
s_attachment (const uint8_t *data, size_t size, const char *name)
{
    GMimePart *part = g_mime_part_new_with_type ("application", "pdf");
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer ((const char *) data, size);
    GMimeDataWrapper *content = g_mime_data_wrapper_new_with_stream (stream, GMIME_CONTENT_ENCODING_DEFAULT);
    g_mime_part_set_content (part, content);
    g_object_unref (content);
    g_object_unref (stream);
    g_mime_part_set_content_encoding (part, GMIME_CONTENT_ENCODING_BASE64);
    g_mime_part_set_filename (part, name);
    return GMIME_OBJECT (part);
}

/* Whether GMime writes text as a header's value as it is: printable ASCII whose words fold
   (none longer than a line) and hold no "=?" (GMime then writes a "Q" word folded inside,
   which no reader takes: tests/fuzz/fuzz_mime.c found it). */
static bool
s_plain (const char *text)
{
    size_t run = 0;
    for (const char *at = text; *at; at++) {
        if ((unsigned char) *at < 0x20 || (unsigned char) *at >= 0x7f || (at [0] == '=' && at [1] == '?'))
            return false;
        run = *at == ' '? 0: run + 1;
        if (run > 60)
            return false;
    }
    return true;
}

/* Writes header name of message as Japanese mail clients expect it: text in "B" encoded
   words, in ISO-2022-JP (jis) or UTF-8 (GMime would choose "Q" words, which old clients
   misread, and pad words that its own reader then drops: charset.h), then after, if any
   (" <address>"). Plain text (s_plain) is left as GMime wrote it. */
static void
s_header (GMimeMessage *message, const char *name, const char *text, const char *after, bool jis)
{
    char *value = s_plain (text)? NULL: charset_header (text, jis);
    GMimeHeader *header = g_mime_header_list_get_header (g_mime_object_get_header_list (GMIME_OBJECT (message)), name);
    size_t size = value? strlen (value) + (after? strlen (after): 0) + 2: 0;
    char *raw = value? malloc (size): NULL;
    if (raw && header) {
        snprintf (raw, size, "%.*s%s\n", (int) strlen (value) - 1, value, after? after: "");
        g_mime_header_set_raw_value (header, raw);
    }
    free (raw);
    free (value);
}

char *
smtp_build (const smtp_mail_t *mail)
{
    GMimeMessage *message = g_mime_message_new (TRUE);
    const char *charset = mail->jis? "iso-2022-jp": "utf-8";
    char *from_name = mail->jis? charset_jis_fit (mail->from_name, NULL): NULL;
    InternetAddress *from = internet_address_mailbox_new (from_name? from_name: mail->from_name,
                                                          mail->from_address);
    internet_address_set_charset (from, charset);
    internet_address_list_add (g_mime_message_get_from (message), from);
    g_object_unref (from);
    g_mime_message_add_mailbox (message, GMIME_ADDRESS_TYPE_TO, NULL, mail->to);
    if (*mail->reply_to)
        g_mime_message_add_mailbox (message, GMIME_ADDRESS_TYPE_REPLY_TO, NULL, mail->reply_to);
    g_mime_message_set_subject (message, mail->subject, charset);
    char address [300];
    snprintf (address, sizeof address, " <%s>", mail->from_address);
    s_header (message, "Subject", mail->subject, NULL, mail->jis);
    s_header (message, "From", from_name? from_name: mail->from_name, address, mail->jis);
    free (from_name);
    g_mime_message_set_message_id (message, mail->message_id);
    GDateTime *date = g_date_time_new_from_unix_utc (mail->date_ms / 1000);
    g_mime_message_set_date (message, date);
    g_date_time_unref (date);
    if (mail->unsubscribe_url) {
        char value [600];
        snprintf (value, sizeof value, "<%s>", mail->unsubscribe_url);
        g_mime_object_set_header (GMIME_OBJECT (message), "List-Unsubscribe", value, NULL);
        g_mime_object_set_header (GMIME_OBJECT (message), "List-Unsubscribe-Post",
                                  "List-Unsubscribe=One-Click", NULL);
    }
    GMimeObject *body;
    if (*mail->html && *mail->text) {
        GMimeMultipart *alternative = g_mime_multipart_new_with_subtype ("alternative");
        GMimeObject *text = s_part ("plain", mail->text, mail->jis);
        GMimeObject *html = s_part ("html", mail->html, mail->jis);
        g_mime_multipart_add (alternative, text);   /* the last part is the preferred one */
        g_mime_multipart_add (alternative, html);
        g_object_unref (text);
        g_object_unref (html);
        body = GMIME_OBJECT (alternative);
    }
    else
        body = *mail->html? s_part ("html", mail->html, mail->jis): s_part ("plain", mail->text, mail->jis);
    if (mail->pdf) {
        GMimeMultipart *mixed = g_mime_multipart_new_with_subtype ("mixed");
        GMimeObject *pdf = s_attachment (mail->pdf, mail->pdf_size, mail->pdf_name);
        g_mime_multipart_add (mixed, body);
        g_mime_multipart_add (mixed, pdf);
        g_object_unref (body);
        g_object_unref (pdf);
        body = GMIME_OBJECT (mixed);
    }
    g_mime_message_set_mime_part (message, body);
    g_object_unref (body);
    GMimeFormatOptions *options = g_mime_format_options_new ();
    g_mime_format_options_set_newline_format (options, GMIME_NEWLINE_FORMAT_DOS);
    char *text = g_mime_object_to_string (GMIME_OBJECT (message), options);
    g_mime_format_options_free (options);
    g_object_unref (message);
    char *signed_text = signer_sign (text);
    g_free (text);
    return signed_text;
}

typedef struct {
    const char *data;
    size_t size, sent;
    const smtp_mail_t *mail;
} s_upload_t;

static size_t
s_read (char *buffer, size_t size, size_t count, void *arg)
{
    s_upload_t *upload = arg;
    size_t room = size * count, left = upload->size - upload->sent;
    if (left == 0 && upload->mail->before_end                  /* libcurl writes the "." next */
    &&  upload->mail->before_end (upload->mail->before_end_arg) == -1)
        return CURL_READFUNC_ABORT;
    size_t chunk = left < room? left: room;
    memcpy (buffer, upload->data + upload->sent, chunk);
    upload->sent += chunk;
    return chunk;
}

smtp_result_t
smtp_send (const smtp_mail_t *mail, char *error, size_t size)
{
    char *data = smtp_build (mail);
    s_upload_t upload = { data, strlen (data), 0, mail };
    char from [300], to [300];
    snprintf (from, sizeof from, "<%s>", mail->from_address);
    snprintf (to, sizeof to, "<%s>", mail->to);
    struct curl_slist *recipients = curl_slist_append (NULL, to);
    CURL *curl = pthread_getspecific (s_handle);
    if (curl)
        curl_easy_reset (curl);         /* the options go, the open connection stays */
    else
    if ((curl = curl_easy_init ()))
        pthread_setspecific (s_handle, curl);
    smtp_result_t result = SMTP_TEMPORARY;
    if (!curl || !recipients)
        snprintf (error, size, "cannot set up libcurl");
    else {
        curl_easy_setopt (curl, CURLOPT_URL, s_url);
        curl_easy_setopt (curl, CURLOPT_MAIL_FROM, from);
        curl_easy_setopt (curl, CURLOPT_MAIL_RCPT, recipients);
        curl_easy_setopt (curl, CURLOPT_READFUNCTION, s_read);
        curl_easy_setopt (curl, CURLOPT_READDATA, &upload);
        curl_easy_setopt (curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
        curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, SEND_TIMEOUT_MS);
        if (s_starttls)
            curl_easy_setopt (curl, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL);
        if (*s_user) {
            curl_easy_setopt (curl, CURLOPT_USERNAME, s_user);
            curl_easy_setopt (curl, CURLOPT_PASSWORD, s_password);
        }
        CURLcode code = curl_easy_perform (curl);
        long response = 0;
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &response);
        if (code == CURLE_OK)
            result = SMTP_SENT;
        else {
            result = response >= 500 && response < 600? SMTP_PERMANENT
                   : response == 0 || response == 421? SMTP_UNAVAILABLE: SMTP_TEMPORARY;
            snprintf (error, size, "cannot send to '%s' through '%s': %s (%ld)", mail->to, s_url,
                      curl_easy_strerror (code), response);
        }
    }
    curl_slist_free_all (recipients);
    free (data);
    return result;
}
