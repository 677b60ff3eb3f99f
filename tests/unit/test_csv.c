/* test_csv.c - CSV reading and writing, and charset detection, on files made as Excel makes them */
#include "check.h"
#include "common/csv.c"

static int
s_read_all (const char *text, char out [][8][64], int *lines)
{
    csv_reader_t *reader = csv_reader_new (text, strlen (text));
    char **fields;
    int count, line, rows = 0;
    while ((count = csv_reader_next (reader, &fields, &line)) > 0) {
        for (int i = 0; i < count && i < 8; i++)
            snprintf (out [rows][i], 64, "%s", fields [i]);
        lines [rows++] = line;
    }
    csv_reader_destroy (&reader);
    return count == -1? -1: rows;
}

int
main (void)
{
    char rows [8][8][64];
    int lines [8];
    /* CRLF, quoted commas, doubled quotes, a line break inside quotes, a blank line. */
    const char *text = "氏名,メールアドレス\r\n\"山田, 花子\",hanako@example.jp\r\n"
                       "\"He said \"\"hi\"\"\",x@example.jp\r\n\r\n\"二行\r\n目\",y@example.jp\r\n";
    CHECK (s_read_all (text, rows, lines) == 4);
    CHECK (strcmp (rows [0][0], "氏名") == 0);
    CHECK (strcmp (rows [1][0], "山田, 花子") == 0 && lines [1] == 2);
    CHECK (strcmp (rows [2][0], "He said \"hi\"") == 0);
    CHECK (strcmp (rows [3][0], "二行\r\n目") == 0 && lines [3] == 5);
    CHECK (strcmp (rows [3][1], "y@example.jp") == 0);
    /* The offset after each record: where the next one starts (an import job's chunks are cut
       there), past a quoted line break and its CRLF. */
    csv_reader_t *reader = csv_reader_new (text, strlen (text));
    char **fields;
    int line;
    size_t header_end = strlen ("氏名,メールアドレス\r\n");
    CHECK (csv_reader_next (reader, &fields, &line) == 2 && csv_reader_offset (reader) == header_end);
    CHECK (csv_reader_next (reader, &fields, &line) == 2);
    CHECK (strncmp (text + csv_reader_offset (reader), "\"He said", 8) == 0);
    CHECK (csv_reader_next (reader, &fields, &line) == 2 && csv_reader_next (reader, &fields, &line) == 2);
    CHECK (csv_reader_offset (reader) == strlen (text));
    csv_reader_destroy (&reader);
    CHECK (s_read_all ("a,\"open\r\nb", rows, lines) == -1);
    CHECK (s_read_all ("", rows, lines) == 0);
    CHECK (s_read_all ("a,,c", rows, lines) == 1 && rows [0][1][0] == 0 && strcmp (rows [0][2], "c") == 0);

    /* Shift_JIS (CP932) bytes of 髙橋① are converted; UTF-8 with and without BOM are kept. */
    const char sjis [] = "\xfb\xfc\x8b\xb4\x87\x40";
    size_t size;
    const char *charset;
    char *utf8 = csv_to_utf8 (sjis, sizeof sjis - 1, &size, &charset);
    CHECK (utf8 && strcmp (charset, "cp932") == 0 && strcmp (utf8, "髙橋①") == 0);
    free (utf8);
    utf8 = csv_to_utf8 ("\xEF\xBB\xBFname", 7, &size, &charset);
    CHECK (utf8 && strcmp (charset, "utf-8-bom") == 0 && strcmp (utf8, "name") == 0 && size == 4);
    free (utf8);
    utf8 = csv_to_utf8 ("山田", strlen ("山田"), &size, &charset);
    CHECK (utf8 && strcmp (charset, "utf-8") == 0);
    free (utf8);
    CHECK (csv_to_utf8 ("\x81", 1, &size, &charset) == NULL);      /* a lone lead byte */

    /* In two slices cut at every byte: the same text, the cut character sent again. */
    const char *files [] = { "a,b\r\n\xFB\xFC\x8B\xB4\xB1\x87\x40\r\n",  /* 髙橋ｱ① in CP932 */
                             "a,b\r\n髙橋ｱ①\r\n", "\xEF\xBB\xBF髙橋" };
    const char *whole [] = { "a,b\r\n髙橋ｱ①\r\n", "a,b\r\n髙橋ｱ①\r\n", "髙橋" };
    const char *found [] = { "cp932", "utf-8", "utf-8-bom" };
    for (int f = 0; f < 3; f++)
        for (size_t cut = 3; cut < strlen (files [f]); cut++) {
            char set [16] = "", joined [64] = "", carried [64];
            size_t rest, used;
            char *part = csv_to_utf8_part (files [f], cut, true, false, set, &used, &rest);
            CHECK (part && rest <= 3 && used == strlen (part));
            snprintf (joined, sizeof joined, "%s", part);
            free (part);
            snprintf (carried, sizeof carried, "%.*s%s", (int) rest, files [f] + cut - rest, files [f] + cut);
            part = csv_to_utf8_part (carried, strlen (carried), false, true, set, &used, &rest);
            CHECK (part && rest == 0);
            snprintf (joined + strlen (joined), sizeof joined - strlen (joined), "%s", part);
            free (part);
            CHECK (strcmp (joined, whole [f]) == 0 && strcmp (set, found [f]) == 0);
        }
    /* ASCII leaves the charset open; a cut character at the end of the last slice is bad;
       a file that began as UTF-8 does not go on as CP932. */
    char set [16] = "";
    size_t rest, used;
    char *part = csv_to_utf8_part ("a,b\r\n", 5, true, false, set, &used, &rest);
    CHECK (part && *set == 0 && rest == 0);
    free (part);
    CHECK (csv_to_utf8_part ("\x8D", 1, false, true, set, &used, &rest) == NULL);
    snprintf (set, sizeof set, "utf-8");
    CHECK (csv_to_utf8_part ("\x8D\x81", 2, false, false, set, &used, &rest) == NULL);

    pg_buffer_t buffer = { 0 };
    csv_buffer_field (&buffer, "a,b", 0);
    csv_buffer_field (&buffer, "say \"x\"", 0);
    csv_buffer_field (&buffer, "=SUM(A1)", 0);
    csv_buffer_field (&buffer, "+81 90 1234 5678", 0);
    csv_buffer_field (&buffer, "-2+3+cmd|' /C calc'!A0", 0);
    csv_buffer_field (&buffer, "-1+2", 0);
    csv_buffer_field (&buffer, "@A1", 0);
    csv_buffer_field (&buffer, "'quoted'", 0);
    csv_buffer_field (&buffer, "plain", 1);
    /* Excel evaluates every cell that starts with =, +, - or @ (+81 90 ... and -1+2 too) */
    CHECK (strcmp (buffer.text, "\"a,b\",\"say \"\"x\"\"\",\"'=SUM(A1)\",\"'+81 90 1234 5678\","
                                "\"'-2+3+cmd|' /C calc'!A0\",\"'-1+2\",\"'@A1\",'quoted',plain\r\n") == 0);
    free (buffer.text);

    /* the import removes exactly that guard */
    char cells [][24] = { "'=SUM(A1)", "'+81 90 1234 5678", "'-1+2", "'@A1", "'\tx", "'quoted'", "''=x", "'", "" };
    const char *unguarded [] = { "=SUM(A1)", "+81 90 1234 5678", "-1+2", "@A1", "\tx", "'quoted'", "''=x", "'", "" };
    for (size_t i = 0; i < sizeof cells / sizeof cells [0]; i++) {
        csv_unguard (cells [i]);
        CHECK (strcmp (cells [i], unguarded [i]) == 0);
    }
    return check_report ("csv");
}
