/* render.h - the templates' language: {{member.name}} put in, HTML-escaped in the HTML part;
   checked when a template is saved, never discovered broken at send */
#ifndef KAIIN_MESSAGING_RENDER_H
#define KAIIN_MESSAGING_RENDER_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    RENDER_TEXT,                      /* values as they are */
    RENDER_HTML,                      /* values HTML-escaped */
    RENDER_HEADER                     /* values on one line: CR, LF and tabs become spaces */
} render_mode_t;

/* Checks text: every "{{" closed by "}}" on the same line around a known variable (see
   services/messaging/README.md). Returns 0, or -1 with "line L, column C: why" in error
   (size bytes), in Japanese when japanese and messaging's table of messages has it, and its
   code (common/messages.h; NULL: none) in *code. */
int render_check (const char *text, bool japanese, char *error, size_t size, const char **code);

/* Text with each {{a.b}} replaced by values' a.b (a borrowed JSON object: strings as they are,
   numbers and booleans as text, a list of strings as a list — "・" lines in text, <ul><li> in
   HTML —, anything absent or null as ""), in mode. text must have passed render_check.
   Returns a new string the caller frees. */
char *render (const char *text, json_t *values, render_mode_t mode);

/* Whether text names variable, put in or tested by a {{#if}}. */
bool render_names (const char *text, const char *variable);

#endif
