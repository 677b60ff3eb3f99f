/* fuzz_text.c - the parsers of what people type: RFC 3339 times (common/clock.c) and the
   Japanese forms of member_text.c (dates in both calendars, kana, phones, postal codes,
   prefectures). Each normal form is a fixed point: read again, it gives itself; a time
   written out reads back as the same instant. */
#include "clock.h"
#include "services/member/member_text.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* normalise applied to its own result changes nothing (NULL stays NULL). */
static void
s_fixed_point (char *(*normalise) (const char *), const char *text)
{
    char *once = normalise (text);
    if (!once)
        return;
    char *twice = normalise (once);
    if (!twice || strcmp (once, twice) != 0)
        abort ();
    free (twice);
    free (once);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = malloc (size + 1);
    memcpy (text, data, size);
    text [size] = 0;

    int64_t ms, again_ms;
    if (clock_parse_ms (text, &ms) == 0) {
        char written [40];
        if (clock_parse_ms (clock_format_ms (ms, written, sizeof written), &again_ms) != 0
        ||  again_ms != ms)
            abort ();
    }
    char day [16], again [16];
    int64_t days;
    if (member_text_birthday (text, day) == MEMBER_TEXT_DATE_OK
    &&  (member_text_date (day, &days) != 0
      || member_text_birthday (day, again) != MEMBER_TEXT_DATE_OK || strcmp (day, again) != 0))
        abort ();
    member_text_date (text, &days);
    char code [16];
    if (member_text_postal_code (text, code) == 0
    &&  (member_text_postal_code (code, again) != 0 || strcmp (code, again) != 0))
        abort ();
    const char *prefecture = member_text_prefecture (text);
    if (prefecture && member_text_prefecture (prefecture) != prefecture)
        abort ();
    s_fixed_point (member_text_fold, text);
    s_fixed_point (member_text_kana, text);
    s_fixed_point (member_text_phone, text);
    member_text_length (text, size & 1);
    free (text);
    return 0;
}
