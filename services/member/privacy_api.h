/* privacy_api.h - a member's data rights under APPI: a copy of everything, and erasure */
#ifndef KAIIN_PRIVACY_API_H
#define KAIIN_PRIVACY_API_H
#include "svc.h"

/* member.DataExport: owners, admins and marketing, or the member themself. */
int privacy_api_export (svc_request_t *request, svc_reply_t *reply);

/* member.Erase: owners and admins. Erasure is not withdrawal: it removes the personal data
   of a member (withdrawn or not) for good, keeping what the law lets Kaiin keep. */
int privacy_api_erase (svc_request_t *request, svc_reply_t *reply);

#endif
