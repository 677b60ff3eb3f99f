/* template.h - templates: a subject, an HTML and a text part, transactional or marketing,
   checked when saved */
#ifndef KAIIN_MESSAGING_TEMPLATE_H
#define KAIIN_MESSAGING_TEMPLATE_H
#include "messaging.h"

void template_prepare (pg_t *db);

/* Template id (deleted ones too: a queued mail still knows its template). Returns the
   template, which the caller frees with protobuf_c_message_free_unpacked, or NULL when there
   is none (*failed false) or on a database error (*failed true). */
Kaiin__Messaging__Template *template_load (pg_t *db, const char *id, bool *failed);

/* 1 when template id exists and is not deleted (a new automation or campaign may use it), 0
   when not, -1 on a database error. */
int template_usable (pg_t *db, const char *id);

svc_handler_fn template_api_create, template_api_get, template_api_list, template_api_update,
               template_api_delete, template_api_preview, template_api_draft_preview;

#endif
