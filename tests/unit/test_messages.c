/* test_messages.c - the tables of messages (common/messages.c, and each service's): each
   Japanese takes the same printf arguments as its English, each English is there once, each
   has a well-formed code of its own, and Accept-Language is read as RFC 9110 says */
#include "check.h"
#include "common/messages.c"
#include "services/member/member_messages.c"
#include "services/billing/billing_messages.c"
#include "services/messaging/messaging_messages.c"
#include "services/analytics/analytics_messages.c"
#include <ctype.h>

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

/* Whether code is snake_case: a lower-case letter, then lower-case letters, digits and '_',
   at most 47 bytes, no "__" and no '_' at the end. */
static bool
s_code_well_formed (const char *code)
{
    size_t length = code? strlen (code): 0;
    if (length == 0 || length > 47 || !islower ((unsigned char) code [0]) || code [length - 1] == '_'
    ||  strstr (code, "__"))
        return false;
    return strspn (code, "abcdefghijklmnopqrstuvwxyz0123456789_") == length;
}

/* Sentence without its printf conversions and digits, in out: "1〜%d で" and "1〜100 で" say
   the same thing. */
static void
s_meaning (const char *sentence, char *out, size_t size)
{
    size_t used = 0;
    for (const char *c = sentence; *c && used + 1 < size; c++) {
        if (*c == '%') {
            c += strspn (c + 1, "-+ #0123456789.hlzjt") + (c [1] != 0);
            continue;
        }
        if (!isdigit ((unsigned char) *c))
            out [used++] = *c;
    }
    out [used] = 0;
}

/* Checks the code of each entry of all the tables: well formed, and one meaning's own: two
   entries share a code only when their Japanese says the same (differing only in conversions
   and numbers, as "must be an integer from %ld to %ld" and "… from 0 to %lu"). */
static void
s_check_codes (const messages_entry_t *const *all, const size_t *all_counts, int tables)
{
    for (int t = 0; t < tables; t++)
        for (size_t i = 0; i < all_counts [t]; i++) {
            const messages_entry_t *entry = &all [t][i];
            CHECK (s_code_well_formed (entry->code));
            if (!s_code_well_formed (entry->code))
                fprintf (stderr, "  '%s' has the code '%s'\n", entry->english,
                         entry->code? entry->code: "(none)");
            if (!entry->code)
                continue;
            char meaning [512], other [512];
            s_meaning (entry->japanese, meaning, sizeof meaning);
            for (int u = 0; u <= t; u++)
                for (size_t j = 0; j < (u == t? i: all_counts [u]); j++) {
                    if (!all [u][j].code || strcmp (all [u][j].code, entry->code) != 0)
                        continue;
                    s_meaning (all [u][j].japanese, other, sizeof other);
                    CHECK (strcmp (meaning, other) == 0);
                    if (strcmp (meaning, other) != 0)
                        fprintf (stderr, "  '%s' and '%s' share the code '%s'\n",
                                 all [u][j].english, entry->english, entry->code);
                }
        }
}

/* Writes text to out with '|' escaped, for a Markdown table's cell. */
static void
s_cell (FILE *out, const char *text)
{
    for (const char *c = text; *c; c++)
        fprintf (out, *c == '|'? "\\|": "%c", *c);
}

/* Writes docs/errors.md, the list of every code, from the tables (names [t] is all [t]'s). */
static void
s_list (FILE *out, const messages_entry_t *const *all, const size_t *all_counts,
        const char *const *names, int tables)
{
    fprintf (out, "# Error codes\n\n"
        "<!-- generated from the tables of messages by `make docs/errors.md`, do not edit -->\n\n"
        "Every problem the API answers (`application/problem+json`) has a `code`, and so has each\n"
        "item of its `errors[]`: a stable snake_case name of what went wrong, for programs. A code\n"
        "never changes when the words of `title`, `detail` or `reason` do, and it is the same in\n"
        "English and in Japanese (`Accept-Language: ja`). Match on `code`, never on the text.\n\n"
        "- Each sentence of the tables below (common/messages.c and each service's\n"
        "  `*_messages.c`) declares its code beside its English and Japanese. Sentences that say\n"
        "  the same thing share one (`no such member`, `member not found`: `member_not_found`).\n"
        "  A printf format has one code, whatever its arguments.\n"
        "- A 400 with field errors has `invalid_fields` at the top; each `errors[].code` says\n"
        "  what is wrong with that field.\n"
        "- A problem whose detail has no code of its own has its type's: the slug of\n"
        "  `/problems/<slug>` in snake_case (`not_found`, `service_unavailable`,\n"
        "  `import_refused`), the codes of the problem titles in the first table.\n"
        "- A field error whose reason has no code has `invalid`; a body that is not JSON has\n"
        "  `invalid_json` on the field `body`.\n"
        "- Each rejected row of a CSV import (`errors[]` of `POST /v1/members/import` and of an\n"
        "  import job) has its `row`, `column`, `reason` and the reason's `code`, from the same\n"
        "  tables (`repeats_email_of_row`, `email_taken`, `not_katakana`).\n"
        "- Codes are added, never renamed or removed: tests/unit/test_messages.c checks that\n"
        "  each is well formed and names one meaning, and that every code released\n"
        "  (tests/unit/error_codes.txt) is still declared.\n");
    for (int t = 0; t < tables; t++) {
        fprintf (out, "\n## %s\n\n| code | English | 日本語 |\n|---|---|---|\n", names [t]);
        for (size_t i = 0; i < all_counts [t]; i++) {
            fprintf (out, "| `%s` | ", all [t][i].code);
            s_cell (out, all [t][i].english);
            fprintf (out, " | ");
            s_cell (out, all [t][i].japanese);
            fprintf (out, " |\n");
        }
    }
}

/* Checks that every code released (tests/unit/error_codes.txt, one a line) is still declared by
   an entry of the tables: a code is added, never renamed or removed. */
static void
s_check_released (const messages_entry_t *const *all, const size_t *all_counts, int tables)
{
    FILE *file = fopen ("tests/unit/error_codes.txt", "r");
    CHECK (file != NULL);
    char line [256];
    while (file && fgets (line, sizeof line, file)) {
        line [strcspn (line, "\n")] = 0;
        if (!*line || *line == '#')
            continue;
        bool declared = false;
        for (int t = 0; t < tables && !declared; t++)
            for (size_t i = 0; i < all_counts [t] && !declared; i++)
                declared = strcmp (all [t][i].code, line) == 0;
        CHECK (declared);
        if (!declared)
            fprintf (stderr, "  the released code '%s' is gone: keep it on its sentence\n", line);
    }
    if (file)
        fclose (file);
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
main (int argc, char **argv)
{
    const messages_entry_t *const all [] = { s_messages, member_messages, billing_messages,
                                             messaging_messages, analytics_messages };
    const size_t counts [] = { sizeof s_messages / sizeof s_messages [0], s_count (member_messages),
                               s_count (billing_messages), s_count (messaging_messages),
                               s_count (analytics_messages) };
    for (int t = 0; t < (int) (sizeof all / sizeof all [0]); t++)
        s_check_table (all [t], counts [t], all, counts, t);
    s_check_codes (all, counts, (int) (sizeof all / sizeof all [0]));
    s_check_released (all, counts, (int) (sizeof all / sizeof all [0]));
    /* docs/errors.md is the tables' list as it is now (--list writes it) */
    const char *const names [] = { "Common: the gateway and the service runtime (common/messages.c)",
        "member (services/member/member_messages.c)", "billing (services/billing/billing_messages.c)",
        "messaging (services/messaging/messaging_messages.c)",
        "analytics (services/analytics/analytics_messages.c)" };
    if (argc > 1 && strcmp (argv [1], "--list") == 0) {
        s_list (stdout, all, counts, names, (int) (sizeof all / sizeof all [0]));
        return 0;
    }
    char *listed = NULL, *kept = NULL;
    size_t listed_size = 0, kept_size = 0;
    FILE *memory = open_memstream (&listed, &listed_size);
    s_list (memory, all, counts, names, (int) (sizeof all / sizeof all [0]));
    fclose (memory);
    FILE *file = fopen ("docs/errors.md", "r");
    if (file) {
        memory = open_memstream (&kept, &kept_size);
        for (int c; (c = fgetc (file)) != EOF; )
            fputc (c, memory);
        fclose (memory);
        fclose (file);
    }
    CHECK (kept && strcmp (listed, kept) == 0);
    if (!kept || strcmp (listed, kept) != 0)
        fprintf (stderr, "  docs/errors.md is not the tables' list: run make docs/errors.md\n");
    free (listed);
    free (kept);
    CHECK (s_code_well_formed ("member_not_found"));
    CHECK (!s_code_well_formed ("Member_not_found"));
    CHECK (!s_code_well_formed ("member.not_found"));
    CHECK (!s_code_well_formed ("member__not_found"));
    CHECK (!s_code_well_formed ("not_found_"));
    CHECK (!s_code_well_formed ("1_not_found"));
    CHECK (!s_code_well_formed (""));
    /* A service's sentence is found once its table is added. */
    CHECK (messages_japanese ("must be written in katakana (or hiragana)") == NULL);
    messages_add (member_messages);
    CHECK (strcmp (messages_japanese ("must be written in katakana (or hiragana)"),
                   "カタカナ(またはひらがな)で入力してください") == 0);
    CHECK (strcmp (messages_japanese ("must be at most %ld characters"), "%ld 文字以内で入力してください") == 0);
    CHECK (messages_japanese ("no such sentence") == NULL);
    /* Codes: the runtime's at once, a service's once its table is added; none for another */
    CHECK (strcmp (messages_code ("the request has invalid fields"), "invalid_fields") == 0);
    CHECK (strcmp (messages_code ("must be an integer from %ld to %ld"), "integer_out_of_range") == 0);
    CHECK (strcmp (messages_code ("must be an integer from 0 to %lu"), "integer_out_of_range") == 0);
    CHECK (strcmp (messages_code ("no such member"), messages_code ("member not found")) == 0);
    CHECK (strcmp (messages_code ("must be written in katakana (or hiragana)"), "not_katakana") == 0);
    CHECK (messages_code ("no such sentence") == NULL);
    CHECK (messages_code (NULL) == NULL);
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
