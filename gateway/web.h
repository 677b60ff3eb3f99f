/* web.h - the screens: the staff console and the member portal, files of the web folder loaded
   and compressed once at start-up, served with their cache and security headers */
#ifndef KAIIN_WEB_H
#define KAIIN_WEB_H
#include "http.h"
#include <stdbool.h>

/* Loads every file under dir (KAIIN_WEB_DIR), or, when dir is NULL or empty, under the first
   of web/ in the working folder, ../../web beside the binary (build/bin/kaiin-gateway in a
   checkout) and /usr/share/kaiin/web that holds console/index.html. Returns 0, or -1 when no
   folder is found or one cannot be read (the gateway then serves no screens). */
int web_init (const char *dir);

/* Frees what web_init loaded. Nothing when nothing was loaded. */
void web_destroy (void);

/* The folder the screens come from (borrowed), or "" when none was loaded. */
const char *web_dir (void);

/* Answers a GET or HEAD of a screen's path ("/", "/console/…", "/portal/…", any file or
   top-level folder of the web folder) and returns true; returns false, answering nothing, for
   every other path. */
bool web_serve (http_request_t *request);

/* Adds the headers every screen response carries beside those of every response
   (X-Content-Type-Options, http.c): Content-Security-Policy and Referrer-Policy. */
void web_security_headers (http_request_t *request);

#endif
