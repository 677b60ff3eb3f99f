/* member_check.h - the member record's rules: emails, names in katakana, phones, postal
   codes, birthdays, consents, custom attributes' values, tags, and who may write status and
   rank; a new member and a change checked as a whole */
#ifndef KAIIN_MEMBER_CHECK_H
#define KAIIN_MEMBER_CHECK_H
#include "member.h"
#include <stdbool.h>

/* Checks a new member as member.Create does: field errors into reply (PERMISSION_DENIED
   naming rank for a role that may not set it). The reading, phone, birthday, postal code and
   prefecture are replaced in place (each a malloc'd string, or "" which is left alone) by
   their normal forms (member_text.h), a consent's time set to now when not given. Returns 0
   when it may be stored, else -1. */
int member_check_create (svc_request_t *request, Kaiin__Member__CreateRequest *create,
                         svc_reply_t *reply);

/* Checks a change as member.Update does: the masked fields only, status and rank first (a
   role that may not write them learns nothing more); normalised in place as above. Returns 0
   or -1, as above. */
int member_check_update (svc_request_t *request, Kaiin__Member__UpdateRequest *update,
                         svc_reply_t *reply);

/* Between on and off, the checks read the custom attributes' definitions once instead of once
   a member (an import's rows, all checked in one request). Returns 0 or -1. */
int member_check_cache_attributes (svc_request_t *request, bool on);

/* Adds a field error unless value has at most max_chars characters and no control ones. */
void member_check_text (svc_reply_t *reply, const char *field, const char *value, long max_chars);

/* Adds a field error unless tags (at most max of them) are each 1 to 50 characters without
   control characters, none repeated. */
void member_check_tags (svc_reply_t *reply, const char *field, char *const *tags, size_t count,
                        size_t max);

/* True when email is an address the member record takes. */
bool member_check_valid_email (const char *email);

/* The number of characters (code points) of UTF-8 text; -1 when it holds control characters. */
long member_check_text_length (const char *text);

#endif
