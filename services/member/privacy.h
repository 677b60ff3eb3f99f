/* privacy.h - a member's data rights under APPI: a copy of everything, and erasure */
#ifndef KAIIN_PRIVACY_H
#define KAIIN_PRIVACY_H
#include "member.h"

void privacy_prepare (pg_t *db);

/* member.DataExport: owners, admins and marketing, or the member themself. */
svc_handler_fn privacy_api_export;

/* member.Erase: owners and admins. Erasure is not withdrawal: it removes the personal data
   of a member (withdrawn or not) for good, keeping what the law lets Kaiin keep. */
svc_handler_fn privacy_api_erase;

#endif
