/* fuzz_render.c - the templates' language (services/messaging/render.c) on any text: the
   check never fails to say why it refuses, and a template it passes renders in every mode
   with values of every kind. A header line stays one line whatever the values hold. */
#include "services/messaging/render.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char VALUES [] =
    "{\"member\": {\"name\": \"<b>高橋\\r\\n&\\\"x\\\"</b>\", \"rank\": \"gold\", \"points\": 12,"
    " \"recommendations\": [\"ヨガ <入門>\", \"\\n\"], \"active\": true, \"note\": null},"
    " \"event\": {\"invoice\": {\"number\": \"INV-00000012\", \"total\": 1100}},"
    " \"plan\": {\"name\": \"ベーシック\\t月額\"}}";

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = malloc (size + 1);
    memcpy (text, data, size);
    text [size] = 0;
    char error [192];
    const char *code = NULL;
    if (render_check (text, size & 1, error, sizeof error, &code) != 0) {
        if (!error [0])
            abort ();                       /* refused without saying why */
        free (text);
        return 0;
    }
    json_t *values = json_loads (VALUES, 0, NULL);
    for (int mode = RENDER_TEXT; mode <= RENDER_HEADER; mode++) {
        char *out = render (text, values, (render_mode_t) mode);
        if (mode == RENDER_HEADER && !strpbrk (text, "\r\n") && strpbrk (out, "\r\n"))
            abort ();                       /* a value broke the header's line */
        if (mode == RENDER_HTML && !strstr (text, "<b") && strstr (out, "<b>"))
            abort ();                       /* a value's markup went in unescaped */
        free (out);
    }
    render_names (text, "recommendations");
    json_decref (values);
    free (text);
    return 0;
}
