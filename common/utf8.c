/* utf8.c - UTF-8 as RFC 3629 has it (see utf8.h) */
#include "utf8.h"
#include <stdio.h>
#include <string.h>

long
utf8_next (const unsigned char **text, const unsigned char *end)
{
    const unsigned char *s = *text;
    long point, minimum;
    int extra;
    if (s [0] < 0x80)                { point = s [0]; extra = 0; minimum = 0; }
    else
    if ((s [0] & 0xE0) == 0xC0)      { point = s [0] & 0x1F; extra = 1; minimum = 0x80; }
    else
    if ((s [0] & 0xF0) == 0xE0)      { point = s [0] & 0x0F; extra = 2; minimum = 0x800; }
    else
    if ((s [0] & 0xF8) == 0xF0)      { point = s [0] & 0x07; extra = 3; minimum = 0x10000; }
    else
        return -1;
    for (int i = 1; i <= extra; i++) {
        /* a NUL is no continuation byte: a NUL-terminated text is never read past its end */
        if ((end && s + i >= end) || (s [i] & 0xC0) != 0x80)
            return -1;
        point = point << 6 | (s [i] & 0x3F);
    }
    if (point < minimum || point > 0x10FFFF || (point >= 0xD800 && point <= 0xDFFF))
        return -1;
    *text = s + extra + 1;
    return point;
}

bool
utf8_valid (const char *text, size_t length)
{
    const unsigned char *at = (const unsigned char *) text, *end = at + length;
    while (at < end)
        if (utf8_next (&at, end) < 0)
            return false;
    return true;
}

char *
utf8_escape (const char *text, char *out, size_t size)
{
    const unsigned char *at = (const unsigned char *) text;
    size_t used = 0;
    while (*at) {
        const unsigned char *next = at;
        size_t length = utf8_next (&next, NULL) < 0? 3: (size_t) (next - at);
        if (used + length >= size)
            break;
        if (next == at) {
            snprintf (out + used, 4, "%%%02X", *at);
            at++;
        }
        else {
            memcpy (out + used, at, length);
            at = next;
        }
        used += length;
    }
    if (size)
        out [used] = 0;
    return out;
}
