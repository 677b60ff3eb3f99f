/* test_common.c - clock formatting, UTF-8, config parsing, envelope round trip, idempotency
   intents */
#include "check.h"
#include "clock.h"
#include "config.h"
#include "envelope.pb-c.h"
#include "idempotency.h"
#include "utf8.h"
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs config_int in a child: returns its exit status (2 when start-up was stopped). */
static int
s_config_int_exit (const char *value)
{
    pid_t pid = fork ();
    if (pid == 0) {
        setenv ("KAIIN_TEST_NUMBER", value, 1);
        freopen ("/dev/null", "w", stderr);
        config_int ("KAIIN_TEST_NUMBER", 1, 1, 10);
        _exit (0);
    }
    int status;
    waitpid (pid, &status, 0);
    return WEXITSTATUS (status);
}

int
main (void)
{
    char stamp [40];
    CHECK (strcmp (clock_format_ms (0, stamp, sizeof stamp), "1970-01-01T00:00:00.000Z") == 0);
    CHECK (strcmp (clock_format_ms (1795594270123LL, stamp, sizeof stamp), "2026-11-25T08:11:10.123Z") == 0);
    /* before 1970 (found by make fuzz: "…:11.-877Z"): the second rounded down */
    CHECK (strcmp (clock_format_ms (-1, stamp, sizeof stamp), "1969-12-31T23:59:59.999Z") == 0);
    CHECK (strcmp (clock_format_ms (-1000, stamp, sizeof stamp), "1969-12-31T23:59:59.000Z") == 0);
    CHECK (strcmp (clock_format_ms (-1001, stamp, sizeof stamp), "1969-12-31T23:59:58.999Z") == 0);

    /* RFC 3629: surrogates, past U+10FFFF, overlong forms and cut-off sequences are not UTF-8 */
    CHECK (utf8_valid ("\xe9\xab\x98", 3));                  /* 高 */
    CHECK (utf8_valid ("a\0b", 3));
    CHECK (!utf8_valid ("\xed\xa0\x80", 3));                 /* U+D800 */
    CHECK (!utf8_valid ("\xf4\x90\x80\x80", 4));            /* U+110000 */
    CHECK (!utf8_valid ("\xe0\x80\xaf", 3));                 /* "/" in three bytes */
    CHECK (!utf8_valid ("\xc0\xaf", 2));                      /* "/" in two */
    CHECK (!utf8_valid ("\xe9\xab", 2));                      /* cut off */
    char escaped [8];
    CHECK (strcmp (utf8_escape ("a\xde" "b", escaped, sizeof escaped), "a%DEb") == 0);
    CHECK (strcmp (utf8_escape ("\xe9\xab\x98\xff", escaped, sizeof escaped), "\xe9\xab\x98%FF") == 0);
    CHECK (strcmp (utf8_escape ("\xe9\xab\x98\xe6\xa9\x8b", escaped, 4), "\xe9\xab\x98") == 0);   /* 高橋 cut to 高 */

    unsetenv ("KAIIN_TEST_NUMBER");
    CHECK (config_int ("KAIIN_TEST_NUMBER", 7, 1, 10) == 7);
    setenv ("KAIIN_TEST_NUMBER", "9", 1);
    CHECK (config_int ("KAIIN_TEST_NUMBER", 7, 1, 10) == 9);
    CHECK (s_config_int_exit ("11") == 2);
    CHECK (s_config_int_exit ("4x") == 2);
    CHECK (s_config_int_exit ("5") == 0);
    setenv ("KAIIN_TEST_SECRET", "s3cret", 1);
    char *secret = config_secret ("KAIIN_TEST_SECRET", NULL);
    CHECK (strcmp (secret, "s3cret") == 0);
    free (secret);
    unsetenv ("KAIIN_TEST_SECRET");
    char path [] = "/tmp/kaiin-secret-XXXXXX";
    int fd = mkstemp (path);
    CHECK (write (fd, "from-file\n", 10) == 10);
    close (fd);
    setenv ("KAIIN_TEST_SECRET_FILE", path, 1);
    secret = config_secret ("KAIIN_TEST_SECRET", NULL);
    CHECK (strcmp (secret, "from-file") == 0);
    free (secret);
    unlink (path);

    Kaiin__Request request = KAIIN__REQUEST__INIT;
    request.request_id = "rid-1";
    request.method = "member.Get";
    request.deadline_ms = 1795594275123LL;
    request.caller_role = "owner";
    request.payload.data = (uint8_t *) "\x0a\x03" "abc";
    request.payload.len = 5;
    uint8_t packed [256];
    size_t size = kaiin__request__pack (&request, packed);
    Kaiin__Request *copy = kaiin__request__unpack (NULL, size, packed);
    CHECK (copy && strcmp (copy->method, "member.Get") == 0 && copy->deadline_ms == request.deadline_ms
           && copy->payload.len == 5 && memcmp (copy->payload.data, request.payload.data, 5) == 0);
    kaiin__request__free_unpacked (copy, NULL);
    CHECK (kaiin__request__unpack (NULL, 3, (uint8_t *) "\xff\xff\xff") == NULL);

    /* Expected digests from an independent SHA-256 (Python's hashlib) of the documented input:
       the method, a NUL and the payload; then the caller, NUL, the key, NUL, that hex. */
    char hex [65], again [65], other [65];
    Kaiin__Request purchase = KAIIN__REQUEST__INIT;
    purchase.method = "billing.PurchaseCreate";
    purchase.caller_id = "staff:1";
    purchase.payload.data = (uint8_t *) "\x0a\x03" "abc";
    purchase.payload.len = 5;
    idempotency_hash (purchase.method, purchase.payload.data, purchase.payload.len, hex);
    CHECK (strcmp (hex, "95e5cd92e715215472afd4a0141ffffcc2072e684b5aa19eaee2d9326005bdb6") == 0);
    snprintf (hex, sizeof hex, "untouched");
    CHECK (!idempotency_intent (&purchase, hex) && strcmp (hex, "untouched") == 0);
    purchase.idempotency_key = "key-1";
    CHECK (idempotency_intent (&purchase, hex));
    CHECK (strcmp (hex, "93ac82241e303e8c3c2b94d8b084b086c73e5b2668f59fde984e55a525967dee") == 0);
    purchase.request_id = "another try";        /* a retry: another request id, the same intent */
    CHECK (idempotency_intent (&purchase, again) && strcmp (again, hex) == 0);
    purchase.payload.len = 4;                    /* another body: another intent */
    CHECK (idempotency_intent (&purchase, other) && strcmp (other, hex) != 0);
    purchase.payload.len = 5;
    purchase.caller_id = "staff:2";              /* another caller's same key: another intent */
    CHECK (idempotency_intent (&purchase, other) && strcmp (other, hex) != 0);
    return check_report ("common");
}
