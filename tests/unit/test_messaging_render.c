/* test_messaging_render.c - the templates' language: checks with line and column, rendering
   with HTML escaping and one-line headers (render.c is included, as h2o's unit tests do) */
#include "check.h"
#include "../../services/messaging/render.c"
#include "../../services/messaging/messaging_messages.c"

/* The error render_check gives text, or "" when it passes. */
static const char *
s_error (const char *text)
{
    static char error [192];
    error [0] = 0;
    const char *code;
    if (render_check (text, false, error, sizeof error, &code) == 0)
        return "";
    return error;
}

/* text rendered with values given as JSON, in mode; compared with expected. */
static bool
s_renders (const char *text, const char *values_json, render_mode_t mode, const char *expected)
{
    json_t *values = json_loads (values_json, 0, NULL);
    char *out = render (text, values, mode);
    bool same = strcmp (out, expected) == 0;
    if (!same)
        fprintf (stderr, "rendered '%s', expected '%s'\n", out, expected);
    free (out);
    json_decref (values);
    return same;
}

int
main (void)
{
    /* A refusal gives its sentence's code, the same in either language. */
    messages_add (messaging_messages);
    char error [192];
    const char *code = NULL;
    CHECK (render_check ("a {{member.nickname}}", true, error, sizeof error, &code) == -1);
    CHECK (code && strcmp (code, "template_unknown_variable") == 0);
    CHECK (strstr (error, "不明な変数 'member.nickname'") != NULL);
    CHECK (render_check ("a }} b", false, error, sizeof error, &code) == -1);
    CHECK (code && strcmp (code, "template_stray_close") == 0);

    CHECK (strcmp (s_error ("plain text, no variables"), "") == 0);
    CHECK (strcmp (s_error ("{{member.name}} {{ member.email }} {{event.invoice.total}}"), "") == 0);
    CHECK (strcmp (s_error ("a {{unsubscribe_url}} {{sender.postal_address}}"), "") == 0);
    CHECK (strcmp (s_error ("こんにちは {{member.nickname}}"), "line 1, column 7: unknown variable 'member.nickname'") == 0);
    CHECK (strcmp (s_error ("x\n\n  {{member.name"), "line 3, column 3: '{{' is not closed by '}}' on its line") == 0);
    CHECK (strcmp (s_error ("{{member.name\n}}"), "line 1, column 1: '{{' is not closed by '}}' on its line") == 0);
    CHECK (strcmp (s_error ("ok }} no"), "line 1, column 4: '}}' closes no '{{'") == 0);
    CHECK (strcmp (s_error ("{{}}"), "line 1, column 1: '{{}}' names no variable") == 0);
    CHECK (strcmp (s_error ("{{event.}}"), "line 1, column 1: unknown variable 'event.'") == 0);
    CHECK (strcmp (s_error ("{{event..a}}"), "line 1, column 1: unknown variable 'event..a'") == 0);
    CHECK (strcmp (s_error ("{{Member.Name}}"), "line 1, column 1: unknown variable 'Member.Name'") == 0);

    const char *values = "{\"member\": {\"name\": \"<b>山田</b> & 'x'\"}, \"event\": {\"count\": 10,"
                         " \"paid\": true, \"invoice\": {\"total\": 1100}}}";
    CHECK (s_renders ("<p>{{member.name}}</p>", values, RENDER_HTML,
                      "<p>&lt;b&gt;山田&lt;/b&gt; &amp; &#39;x&#39;</p>"));
    CHECK (s_renders ("{{member.name}}様", values, RENDER_TEXT, "<b>山田</b> & 'x'様"));
    CHECK (s_renders ("{{event.count}}回 {{event.invoice.total}}円 {{event.paid}} [{{event.none}}]",
                      values, RENDER_TEXT, "10回 1100円 true []"));
    /* Times come in UTC (RFC 3339) and are read in Japan: 09:27 UTC is 18:27 JST, and 20:00
       UTC on the 31st of December is 5:00 on New Year's Day there. Other text stays. */
    const char *times = "{\"event\": {\"expires_at\": \"2026-12-05T09:27:41Z\","
                        " \"at\": \"2026-12-31T20:00:00.250Z\", \"code\": \"2026-12-05\"}}";
    CHECK (s_renders ("{{event.expires_at}} / {{event.at}} / {{event.code}}", times, RENDER_TEXT,
                      "2026年12月5日 18:27 / 2027年1月1日 05:00 / 2026-12-05"));
    CHECK (s_renders ("件名 {{member.name}}", "{\"member\": {\"name\": \"a\\r\\nBcc: x@example.com\"}}",
                      RENDER_HEADER, "件名 a  Bcc: x@example.com"));

    /* Sections: {{#if v}} … {{else}} … {{/if}}, nested; checked as tags are, each error at its
       line and column. */
    CHECK (strcmp (s_error ("{{#if event.konbini_number}}a{{else}}b{{/if}}"), "") == 0);
    CHECK (strcmp (s_error ("{{#if member.rank}}{{#if event.paid}}x{{/if}}{{/if}}"), "") == 0);
    CHECK (strcmp (s_error ("a\n {{#if member.nick}}x{{/if}}"), "line 2, column 2: unknown variable 'member.nick'") == 0);
    CHECK (strcmp (s_error ("x\n{{#if event.a}}\ny"), "line 2, column 1: '{{#if …}}' is not closed by '{{/if}}'") == 0);
    CHECK (strcmp (s_error ("x {{/if}}"), "line 1, column 3: '{{/if}}' is not inside a '{{#if …}}'") == 0);
    CHECK (strcmp (s_error ("{{else}}"), "line 1, column 1: '{{else}}' is not inside a '{{#if …}}'") == 0);
    CHECK (strcmp (s_error ("{{#if event.a}}1{{else}}2{{else}}3{{/if}}"),
                   "line 1, column 26: '{{else}}' comes twice in one '{{#if …}}'") == 0);
    CHECK (strcmp (s_error ("{{#if}}x{{/if}}"), "line 1, column 1: unknown variable '#if'") == 0);
    char deep [256] = "";
    for (int i = 0; i < 9; i++)
        strcat (deep, "{{#if event.a}}");
    CHECK (strcmp (s_error (deep), "line 1, column 121: '{{#if …}}' is nested more than 8 deep") == 0);
    /* A konbini payment shows its number and no bank line; a line holding only a section's tag
       leaves nothing behind (no blank line); an empty string, 0 and false do not hold. */
    const char *dunning = "お支払い方法:\n"
                          "{{#if event.konbini_number}}\n"
                          "コンビニ払込番号: {{event.konbini_number}}\n"
                          "{{/if}}\n"
                          "  {{#if event.bank_reference}}  \r\n"
                          "銀行振込の照会番号: {{event.bank_reference}}\n"
                          "{{/if}}\n"
                          "以上";
    CHECK (s_renders (dunning, "{\"event\": {\"konbini_number\": \"123-456\", \"bank_reference\": \"\"}}",
                      RENDER_TEXT, "お支払い方法:\nコンビニ払込番号: 123-456\n以上"));
    CHECK (s_renders (dunning, "{\"event\": {\"bank_reference\": \"KA-9\"}}",
                      RENDER_TEXT, "お支払い方法:\n銀行振込の照会番号: KA-9\n以上"));
    CHECK (s_renders ("{{#if event.count}}x{{else}}none{{/if}} {{#if event.paid}}p{{/if}}",
                      "{\"event\": {\"count\": 0, \"paid\": false}}", RENDER_TEXT, "none "));
    CHECK (s_renders ("<p>{{#if member.rank}}{{member.rank}}様{{#if event.count}} ({{event.count}}){{/if}}{{else}}-{{/if}}</p>",
                      "{\"member\": {\"rank\": \"<gold>\"}, \"event\": {\"count\": 3}}", RENDER_HTML,
                      "<p>&lt;gold&gt;様 (3)</p>"));
    CHECK (s_renders ("{{#if member.rank}}[{{member.rank}}] {{/if}}ご案内", "{\"member\": {}}",
                      RENDER_HEADER, "ご案内"));
    /* Filters: number puts thousands separators into whole numbers, yen writes an amount;
       text and decimals stay as they are. */
    CHECK (strcmp (s_error ("{{event.amount | yen}} {{ event.count|number }}"), "") == 0);
    CHECK (strcmp (s_error ("合計 {{event.amount | money}}"), "line 1, column 4: unknown filter 'money' (number or yen)") == 0);
    CHECK (strcmp (s_error ("{{#if event.amount | yen}}x{{/if}}"), "line 1, column 1: '{{#if …}}' takes no filter") == 0);
    CHECK (strcmp (s_error ("{{member.nick | number}}"), "line 1, column 1: unknown variable 'member.nick'") == 0);
    CHECK (s_renders ("{{event.a | yen}} {{event.b | number}} {{event.c | number}} {{event.d | yen}} "
                      "{{event.e | number}} {{event.f | yen}} {{event.g | number}}",
                      "{\"event\": {\"a\": 1100, \"b\": 1234567, \"c\": 999, \"d\": -5500, \"e\": \"1000\","
                      " \"f\": \"12.5\", \"g\": \"INV-0001\"}}", RENDER_TEXT,
                      "¥1,100 1,234,567 999 -¥5,500 1,000 12.5 INV-0001"));
    /* A list ({{recommendations}}): 「・」 lines in text, an escaped <ul> in HTML, 「、」 in a
       header; an empty one writes nothing and fails its {{#if}}. */
    const char *list = "{\"recommendations\": [\"マット\", \"<大> & 小\"], \"none\": []}";
    const char *block = "おすすめ:\n{{#if recommendations}}\n{{recommendations}}\n{{/if}}\n以上";
    CHECK (strcmp (s_error (block), "") == 0);
    CHECK (s_renders (block, list, RENDER_TEXT, "おすすめ:\n・マット\n・<大> & 小\n以上"));
    CHECK (s_renders (block, "{\"recommendations\": []}", RENDER_TEXT, "おすすめ:\n以上"));
    CHECK (s_renders (block, "{}", RENDER_TEXT, "おすすめ:\n以上"));
    CHECK (s_renders ("<p>{{recommendations}}</p>", list, RENDER_HTML,
                      "<p><ul><li>マット</li><li>&lt;大&gt; &amp; 小</li></ul></p>"));
    CHECK (s_renders ("[{{recommendations}}]", list, RENDER_HEADER, "[マット、<大> & 小]"));
    CHECK (render_names (block, "recommendations") && render_names ("{{#if recommendations}}x{{/if}}",
                                                                    "recommendations"));
    CHECK (!render_names ("recommendations {{member.name}}", "recommendations"));
    return check_report ("messaging render");
}
