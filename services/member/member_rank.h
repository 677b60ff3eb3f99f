/* member_rank.h - member.RankSet: another service's automation moving a member's rank, only
   from the ranks it names, audited as that automation */
#ifndef KAIIN_MEMBER_RANK_H
#define KAIIN_MEMBER_RANK_H
#include "svc.h"

/* member.RankSet: RankSetRequest → Member. Callers of role service only (PERMISSION_DENIED
   otherwise). The member's rank becomes rank when it is one of from_ranks (FAILED_PRECONDITION
   when not, or when the member has withdrawn); already rank: answered as it is, nothing
   written. The change is member.Update's (its event member.updated), audited with actor
   "<service>:<automation>", role service. INVALID_ARGUMENT for an unknown rank or a bad
   automation name, NOT_FOUND for an unknown member, ABORTED when the member changed meanwhile
   (ask again). */
int member_api_rank_set (svc_request_t *request, svc_reply_t *reply);

#endif
