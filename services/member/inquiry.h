/* inquiry.h - support inquiries (問い合わせ履歴) and their threads: opened, read, answered,
   changed; their checks and columns, which the list shares */
#ifndef KAIIN_INQUIRY_H
#define KAIIN_INQUIRY_H
#include "inquiry.pb-c.h"
#include "member.h"
#include <stdbool.h>

/* An inquiry's row and a message's, named as their messages' fields. */
#define INQUIRY_COLUMNS \
    "id, member_id, subject, status, channel, category," \
    " coalesce (assignee_id::text, '') as assignee_id, opened_by, version," \
    " " MS ("created_at") " as created_at_ms, " MS ("updated_at") " as updated_at_ms," \
    " " MS ("resolved_at") " as resolved_at_ms, seq"

#define INQUIRY_MESSAGE_COLUMNS \
    "id, inquiry_id, author_type, author_id, body, " MS ("created_at") " as created_at_ms"

void inquiry_prepare (pg_t *db);

/* Each serves one method of the member service, "member.Inquiry<Verb>" (see
   proto/inquiry.proto). Malformed ids are NOT_FOUND; bad fields INVALID_ARGUMENT naming them. */
svc_handler_fn inquiry_api_open, inquiry_api_get, inquiry_api_reply, inquiry_api_update;

/* The values an inquiry's status, channel and category take. */
extern const char *const inquiry_statuses [], *const inquiry_channels [], *const inquiry_categories [];

/* Adds a field error unless value is one of allowed; "" is an error only when required. */
void inquiry_check_enum (svc_reply_t *reply, const char *field, const char *value,
                         const char *const *allowed, bool required);

/* Counts the code points of UTF-8 text; -1 when it is not UTF-8 or holds control characters
   (tabs and line breaks allowed when multiline). */
long inquiry_text_length (const char *text, bool multiline);

#endif
