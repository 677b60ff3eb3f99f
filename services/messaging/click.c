/* click.c - the tracked links of campaign mails: the links of a template's HTML part, pointed in
   each mail at a signed redirect (GET /c/{token}, no login) that counts the click */
#include "click.h"
#include "link.h"
#include "render.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROUTE "/c/"

void
click_prepare (pg_t *db)
{
    pg_prepare (db, "click_link",
            "select (coalesce (c.links, m.links)) [$2::int + 1] as url from mails m"
            " left join campaigns c on c.id = m.campaign_id"
            " where m.id = $1");
    pg_prepare (db, "click_record",
            "with click as (insert into clicks (mail_id, link, at_ms) values ($1, $2, $3))"
            " update mails set clicked_at_ms = $3 where id = $1 and clicked_at_ms = 0");
}

/* The next href attribute's value at or after p in html: its start into *value and length
   into *length. Returns where to look next, or NULL when there is none. */
static const char *
s_next_href (const char *html, const char *p, const char **value, size_t *length)
{
    for (; *p; p++) {
        if (p == html || strncasecmp (p, "href", 4) != 0 || !isspace ((unsigned char) p [-1]))
            continue;
        const char *q = p + 4;
        q += strspn (q, " \t\r\n");
        if (*q++ != '=')
            continue;
        q += strspn (q, " \t\r\n");
        char quote = *q;
        if (quote != '"' && quote != '\'')
            continue;
        const char *end = strchr (q + 1, quote);
        if (!end)
            return NULL;
        *value = q + 1;
        *length = (size_t) (end - q - 1);
        return end + 1;
    }
    return NULL;
}

/* An href's value with its HTML entities (&amp; &lt; &gt; &quot; &#39;) decoded: a new string. */
static char *
s_decode (const char *value, size_t length)
{
    static const struct { const char *entity; char one; } entities [] = {
        { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&#39;", '\'' },
        { "&#x27;", '\'' }, { NULL, 0 }
    };
    char *text = malloc (length + 1);
    size_t used = 0;
    for (size_t i = 0; text && i < length; ) {
        int found = -1;
        for (int e = 0; entities [e].entity && found < 0; e++) {
            size_t size = strlen (entities [e].entity);
            if (i + size <= length && strncmp (value + i, entities [e].entity, size) == 0)
                found = e;
        }
        if (found >= 0) {
            text [used++] = entities [found].one;
            i += strlen (entities [found].entity);
        }
        else
            text [used++] = value [i++];
    }
    if (text)
        text [used] = 0;
    return text;
}

/* The index of url in links, or -1. */
static int
s_index (json_t *links, const char *url)
{
    for (size_t i = 0; i < json_array_size (links); i++)
        if (strcmp (json_string_value (json_array_get (links, i)), url) == 0)
            return (int) i;
    return -1;
}

json_t *
click_links (const char *html)
{
    json_t *links = json_array ();
    const char *value;
    size_t length;
    for (const char *p = html; (p = s_next_href (html, p, &value, &length)); ) {
        char *url = s_decode (value, length);
        if (url && (strncmp (url, "http://", 7) == 0 || strncmp (url, "https://", 8) == 0)
        &&  strlen (url) <= CLICK_URL_MAX && !strstr (url, "{{") && s_index (links, url) < 0
        &&  json_array_size (links) < LINK_MAX)
            json_array_append_new (links, json_string (url));
        free (url);
    }
    return links;
}

char *
click_rewrite (char *html, const char *mail_id, json_t *links)
{
    pg_buffer_t out = { NULL, 0, 0 };
    const char *copied = html, *value;
    size_t length;
    for (const char *p = html; (p = s_next_href (html, p, &value, &length)); ) {
        char *url = s_decode (value, length);
        int link = url? s_index (links, url): -1;
        free (url);
        if (link < 0)
            continue;
        char token [LINK_TOKEN_CHARS + 1], tracked [600];
        link_token (mail_id, link, token);
        link_url (ROUTE, token, tracked, sizeof tracked);
        pg_buffer_append (&out, copied, (size_t) (value - copied));
        pg_buffer_append (&out, tracked, strlen (tracked));
        copied = value + length;
    }
    pg_buffer_append (&out, copied, strlen (copied));
    free (html);
    return out.text;
}

int
click_api_follow (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__ClickRequest *click = (Kaiin__Messaging__ClickRequest *)
        svc_unpack (request, &kaiin__messaging__click_request__descriptor, reply);
    if (!click)
        return -1;
    char mail_id [LINK_UUID_CHARS + 1], link [24], now [24];
    int number, rc = -1;
    if (!link_token_check (click->token, mail_id, &number)) {
        svc_field_error (reply, "token", "is not a link this service made");
        protobuf_c_message_free_unpacked (&click->base, NULL);
        return -1;
    }
    const char *find [] = { mail_id, NUM (link, number) };
    const char *record [] = { mail_id, link, NUM (now, messaging_now (request)) };
    PGresult *found = NULL, *recorded = NULL;
    if (pg_begin (request->db) == -1 || !(found = pg_run (request->db, "click_link", 2, find)))
        svc_db_fail (reply, request->db);
    else
    if (PQntuples (found) == 0 || PQgetisnull (found, 0, 0))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "link not found");
    else
    if (!(recorded = pg_run (request->db, "click_record", 3, record)) || pg_commit (request->db) == -1)
        svc_db_fail (reply, request->db);
    else {
        Kaiin__Messaging__ClickReply answer = KAIIN__MESSAGING__CLICK_REPLY__INIT;
        answer.url = PQgetvalue (found, 0, 0);
        json_t *values = json_pack ("{s:s}", "url", answer.url);
        answer.html = render ("<!doctype html>\n<p><a href=\"{{url}}\">{{url}}</a></p>\n", values, RENDER_HTML);
        json_decref (values);
        svc_reply_header (reply, "Location", "%s", answer.url);
        rc = svc_reply_with (reply, &answer.base);
        free (answer.html);
    }
    if (rc == -1)
        pg_rollback (request->db);
    PQclear (found);
    PQclear (recorded);
    protobuf_c_message_free_unpacked (&click->base, NULL);
    return rc;
}
