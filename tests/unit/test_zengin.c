/* test_zengin.c - the 全銀協 transfer-notice (振込入金通知) reader: records built byte by byte
   as a bank sends them (200 bytes, half-width katakana as Shift_JIS single bytes), the
   deposits read back, and each fault named with its row (zengin.c is included, as h2o's
   unit tests do) */
#include "check.h"
#include "../../services/billing/zengin.c"

/* A 200-byte record: text placed at offsets, the rest spaces. */
static void
s_put (char record [200], int offset, const char *text)
{
    memcpy (record + offset, text, strlen (text));
}

static size_t
s_file (char *out, const char *const *records, int count, bool crlf)
{
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        memcpy (out + used, records [i], 200);
        used += 200;
        if (crlf) {
            memcpy (out + used, "\r\n", 2);
            used += 2;
        }
    }
    return used;
}

int
main (void)
{
    char header [200], one [200], two [200], trailer [200], end [200];
    memset (header, ' ', 200);
    s_put (header, 0, "1010080401080401080401");
    memset (one, ' ', 200);
    /* 照会番号 000123, 勘定日 令和8年4月1日 (080401), 金額 5,500, payer "ﾔﾏﾀﾞ ﾀﾛｳ" in JIS X 0201 */
    s_put (one, 0, "2000123080401080401000000550000000000000000000000");
    s_put (one, 49, "\xD4\xCF\xC0\xDE \xC0\xDB\xB3");
    s_put (one, 128, "INV-00000042");
    memset (two, ' ', 200);
    /* 西暦 2026-04-02 (260402), 1,000 yen, "ｽｽﾞｷ" */
    s_put (two, 0, "2000124260402260402000000100000000000000000000000");
    s_put (two, 49, "\xBD\xBD\xDE\xB7");
    memset (trailer, ' ', 200);
    s_put (trailer, 0, "8000002000000006500000000000000000000");
    memset (end, ' ', 200);
    end [0] = '9';

    char file [2048];
    zengin_t z;
    const char *records [] = { header, one, two, trailer, end };
    size_t size = s_file (file, records, 5, true);
    CHECK (zengin_detect (file, size));
    CHECK (zengin_parse (file, size, 9, &z) == 0);
    CHECK (z.count == 2 && z.total == 6500);
    CHECK (z.deposits [0].row == 2 && strcmp (z.deposits [0].reference, "000123") == 0);
    CHECK (strcmp (z.deposits [0].date, "2026-04-01") == 0 && z.deposits [0].amount == 5500);
    CHECK (strcmp (z.deposits [0].payer, "ﾔﾏﾀﾞ ﾀﾛｳ") == 0);
    CHECK (strcmp (z.deposits [0].edi, "INV-00000042") == 0);
    CHECK (strcmp (z.deposits [1].date, "2026-04-02") == 0 && strcmp (z.deposits [1].payer, "ｽｽﾞｷ") == 0);
    zengin_free (&z);
    /* without CRLF: the same */
    size = s_file (file, records, 5, false);
    CHECK (zengin_parse (file, size, 9, &z) == 0 && z.count == 2 && z.total == 6500);
    zengin_free (&z);

    /* the trailer's total says 6,600: refused, the trailer's row named with both sums */
    s_put (trailer, 7, "000000006600");
    size = s_file (file, records, 5, true);
    CHECK (zengin_parse (file, size, 9, &z) == -1 && z.n_errors == 1);
    CHECK (z.errors [0].row == 4 && z.errors [0].first == 6600 && z.errors [0].second == 6500);
    CHECK (strstr (z.errors [0].fmt, "total") != NULL);
    zengin_free (&z);
    s_put (trailer, 7, "000000006500");

    /* a name in full-width Shift_JIS (ヤ = 0x83 0x84): broken encoding, named on its row */
    s_put (two, 49, "\x83\x84\x83\x7D");
    size = s_file (file, records, 5, true);
    CHECK (zengin_parse (file, size, 9, &z) == -1 && z.n_errors >= 1);
    CHECK (z.errors [0].row == 3 && strstr (z.errors [0].fmt, "encoding") != NULL);
    zengin_free (&z);
    s_put (two, 49, "\xBD\xBD\xDE\xB7");

    /* 2月30日 is no date; a record cut short; no trailer */
    s_put (two, 7, "260230");
    size = s_file (file, records, 5, true);
    CHECK (zengin_parse (file, size, 9, &z) == -1 && z.errors [0].row == 3 && strstr (z.errors [0].fmt, "date"));
    zengin_free (&z);
    s_put (two, 7, "260402");
    size = s_file (file, records, 5, false);
    CHECK (zengin_parse (file, size - 1, 9, &z) == -1);
    CHECK (z.n_errors == 1 && z.errors [0].row == 5 && strstr (z.errors [0].fmt, "200 bytes"));
    zengin_free (&z);
    const char *no_trailer [] = { header, one, two };
    size = s_file (file, no_trailer, 3, true);
    CHECK (zengin_parse (file, size, 9, &z) == -1 && strstr (z.errors [0].fmt, "trailer"));
    zengin_free (&z);
    /* a cancellation (取消区分 1) is named, not read as a deposit */
    two [127] = '1';
    s_put (trailer, 1, "000001000000005500");               /* the transfers alone: 1, 5,500 */
    size = s_file (file, records, 5, true);
    CHECK (zengin_parse (file, size, 9, &z) == -1 && z.n_errors == 1 && z.errors [0].row == 3);
    CHECK (strstr (z.errors [0].fmt, "cancellation") != NULL);
    s_put (trailer, 1, "000002000000006500");
    zengin_free (&z);
    two [127] = ' ';
    CHECK (!zengin_detect ("日付,金額\r\n", 14));
    return check_report ("zengin");
}
