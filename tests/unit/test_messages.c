/* test_messages.c - the tables of messages (common/messages.c, and each service's): each
   Japanese takes the same printf arguments as its English, each English is there once, and
   Accept-Language is read as RFC 9110 says */
#include "check.h"
#include "common/messages.c"
#include "services/member/member_messages.c"
#include "services/billing/billing_messages.c"
#include "services/messaging/messaging_messages.c"
#include "services/analytics/analytics_messages.c"

/* Writes the conversions of a printf format ("%ld", "%s", ...; "%%" skipped) into out. */
static void
s_conversions (const char *format, char *out, size_t size)
{
    size_t used = 0;
    out [0] = 0;
    for (const char *c = format; *c; c++) {
        if (*c != '%')
            continue;
        if (c [1] == '%') {
            c++;
            continue;
        }
        size_t length = 1 + strspn (c + 1, "-+ #0123456789.hlzjt");
        length += c [length] != 0;
        used += snprintf (out + used, size - used, "%.*s|", (int) length, c);
        c += length - 1;
    }
}

/* Checks each entry of table (count of them) against the entries of every table before it
   in all (one English once across them all). */
static void
s_check_table (const messages_entry_t *table, size_t count, const messages_entry_t *const *all,
               const size_t *all_counts, int tables_before)
{
    for (size_t i = 0; i < count; i++) {
        char english [64], japanese [64];
        s_conversions (table [i].english, english, sizeof english);
        s_conversions (table [i].japanese, japanese, sizeof japanese);
        CHECK (strcmp (english, japanese) == 0);
        if (strcmp (english, japanese) != 0)
            fprintf (stderr, "  '%s': %s against %s\n", table [i].english, english, japanese);
        CHECK (strlen (table [i].japanese) < 192);              /* fits a field error's reason */
        bool repeated = false;
        for (size_t j = 0; j < i; j++)
            repeated |= strcmp (table [i].english, table [j].english) == 0;
        for (int t = 0; t < tables_before; t++)
            for (size_t j = 0; j < all_counts [t]; j++)
                repeated |= strcmp (table [i].english, all [t][j].english) == 0;
        CHECK (!repeated);
        if (repeated)
            fprintf (stderr, "  '%s' is there twice\n", table [i].english);
    }
}

/* The entries of a service's table, before its NULLs. */
static size_t
s_count (const messages_entry_t *table)
{
    size_t count = 0;
    while (table [count].english)
        count++;
    return count;
}

int
main (void)
{
    const messages_entry_t *const all [] = { s_messages, member_messages, billing_messages,
                                             messaging_messages, analytics_messages };
    const size_t counts [] = { sizeof s_messages / sizeof s_messages [0], s_count (member_messages),
                               s_count (billing_messages), s_count (messaging_messages),
                               s_count (analytics_messages) };
    for (int t = 0; t < (int) (sizeof all / sizeof all [0]); t++)
        s_check_table (all [t], counts [t], all, counts, t);
    /* A service's sentence is found once its table is added. */
    CHECK (messages_japanese ("must be written in katakana (or hiragana)") == NULL);
    messages_add (member_messages);
    CHECK (strcmp (messages_japanese ("must be written in katakana (or hiragana)"),
                   "カタカナ(またはひらがな)で入力してください") == 0);
    CHECK (strcmp (messages_japanese ("must be at most %ld characters"), "%ld 文字以内で入力してください") == 0);
    CHECK (messages_japanese ("no such sentence") == NULL);
    /* Each service's own: found once its table is added, as its main does. */
    CHECK (messages_japanese ("invoice not found") == NULL);
    messages_add (billing_messages);
    CHECK (strcmp (messages_japanese ("invoice not found"), "請求書が見つかりません") == 0);
    CHECK (strcmp (messages_japanese ("must be from 1 to %lld yen"), "1〜%lld 円で指定してください") == 0);
    messages_add (messaging_messages);
    CHECK (strcmp (messages_japanese ("html or text must be given"),
                   "html か text のどちらかを指定してください") == 0);
    messages_add (analytics_messages);
    CHECK (strcmp (messages_japanese ("must be a month, YYYY-MM"), "月を YYYY-MM の形式で指定してください") == 0);
    /* ... and the sentences several of them write, with the runtime's */
    CHECK (strcmp (messages_japanese ("member not found"), "会員が見つかりません") == 0);
    CHECK (strcmp (messages_say (true, "Not found"), "見つかりません") == 0);
    CHECK (strcmp (messages_say (false, "Not found"), "Not found") == 0);
    CHECK (strcmp (messages_say (true, "no such sentence"), "no such sentence") == 0);

    CHECK (messages_prefer_japanese ("ja"));
    CHECK (messages_prefer_japanese ("ja-JP"));
    CHECK (messages_prefer_japanese ("JA-jp,en;q=0.8"));
    CHECK (messages_prefer_japanese ("ja,en-US;q=0.9,en;q=0.8"));
    CHECK (messages_prefer_japanese ("en;q=0.5, ja;q=0.9"));
    CHECK (messages_prefer_japanese ("en-US;q=0.9,ja"));
    CHECK (!messages_prefer_japanese ("en-US,en;q=0.9,ja;q=0.8"));
    CHECK (!messages_prefer_japanese ("en, ja"));                  /* equals: the first wins */
    CHECK (!messages_prefer_japanese ("ja;q=0"));
    CHECK (!messages_prefer_japanese ("jav"));
    CHECK (!messages_prefer_japanese ("*"));
    CHECK (!messages_prefer_japanese (""));
    CHECK (!messages_prefer_japanese (NULL));
    return check_report ("messages");
}
