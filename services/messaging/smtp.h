/* smtp.h - one mail built as MIME by GMime (UTF-8, RFC 2047 headers, multipart/alternative)
   and handed to the relay by libcurl's SMTP */
#ifndef KAIIN_MESSAGING_SMTP_H
#define KAIIN_MESSAGING_SMTP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *from_name, *from_address, *reply_to;   /* reply_to "" = none */
    const char *to;
    const char *subject, *html, *text;                 /* UTF-8; html or text may be "" */
    const char *message_id;                            /* without the angle brackets */
    const char *unsubscribe_url;                       /* NULL: no List-Unsubscribe headers */
    int64_t date_ms;
    const uint8_t *pdf;                                /* NULL, or a PDF the mail attaches */
    size_t pdf_size;
    const char *pdf_name;                              /* its file name, UTF-8 */
    bool jis;                                          /* in ISO-2022-JP: the text holds only
                                                          what it carries (charset_jis_fit) */
    int (*before_end) (void *arg);                     /* NULL, or called once the whole mail
                                                          but its final "." went to the relay:
                                                          -1 abandons the mail (never taken) */
    void *before_end_arg;
} smtp_mail_t;

typedef enum {
    SMTP_SENT = 0,
    SMTP_TEMPORARY,                   /* the relay answered 4xx for this mail: try it again later */
    SMTP_PERMANENT,                   /* the relay answered 5xx: a bounce */
    SMTP_UNAVAILABLE                  /* the relay is not taking any mail: it did not answer, or
                                         answered 421 (closing, busy): no mail goes before it does */
} smtp_result_t;

/* Reads MESSAGING_SMTP_HOST (127.0.0.1), MESSAGING_SMTP_PORT (25), MESSAGING_SMTP_STARTTLS
   (0; 1: required), MESSAGING_SMTP_USER and MESSAGING_SMTP_PASSWORD (AUTH when a user is
   set), and initialises GMime and libcurl. Start-up only. */
void smtp_configure (void);

/* Frees what smtp_configure set up. */
void smtp_shutdown (void);

/* The mail as MIME text with CRLF line ends, DKIM-signed when signing is set up (signer.h): a
   new string the caller frees with free. */
char *smtp_build (const smtp_mail_t *mail);

/* Builds and sends mail. On failure error (size bytes) says why. */
smtp_result_t smtp_send (const smtp_mail_t *mail, char *error, size_t size);

#endif
