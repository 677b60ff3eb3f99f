/* click.h - the tracked links of campaign mails: the links of a template's HTML part, pointed in
   each mail at a signed redirect (GET /c/{token}, no login) that counts the click */
#ifndef KAIIN_MESSAGING_CLICK_H
#define KAIIN_MESSAGING_CLICK_H
#include "messaging.h"
#include <jansson.h>

#define CLICK_URL_MAX 127               /* a reply's header value (svc_reply_t) holds 127
                                           characters: a longer link stays untracked */

void click_prepare (pg_t *db);

/* The links a campaign tracks in html (a template's HTML part): each href value that is an
   http or https URL without template variables, at most CLICK_URL_MAX characters once its
   HTML entities are decoded; each once, the first LINK_MAX. A new JSON array of strings the
   caller decrefs. */
json_t *click_links (const char *html);

/* html (a rendered HTML part, freed) with each href whose decoded URL is item n of links (a
   borrowed JSON array from click_links) pointing at mail_id's tracked link n instead. Returns
   a new string the caller frees. */
char *click_rewrite (char *html, const char *mail_id, json_t *links);

svc_handler_fn click_api_follow;

#endif
