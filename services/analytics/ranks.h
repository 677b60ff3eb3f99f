/* ranks.h - the rank automation: staff's rules (a metric's threshold → a member rank), the
   members they raise queued in the transaction that found them due, and the tick that asks the
   member service to change them (member.RankSet) */
#ifndef KAIIN_RANKS_H
#define KAIIN_RANKS_H
#include "svc.h"

#define RANKS_RULES_MAX 20                 /* rules, at most */
#define RANKS_THRESHOLD_MAX 1000000000000LL /* a threshold, at most (billing's largest amount) */

/* Records the module's statements on a connection, for pg_ensure to prepare. */
void ranks_prepare (pg_t *db);

/* Queues member_id for a rank change when the rules raise them (rank_targets), inside the
   caller's transaction (a consumer's: the change is asked of member by the tick, after the
   commit), at at_ms. Returns 0 or -1. */
int ranks_queue (pg_t *db, const char *member_id, int64_t at_ms);

/* The tick's part: for up to 20 queued members due at now_ms, in one transaction, asks member
   (member.RankSet, actor "analytics:rank_automation") to raise each to the rank the rules give
   now, from basic or a rank the rules place lower; a member member refused or that the rules
   no longer raise is dropped, one member did not answer for (and the rest of the batch with
   it) is tried again later (1 s, 2 s, 4 s ... at most 512 s after). Setting a rank twice is harmless, so a crash after member
   answered only asks again. Returns the members handled, 0, or -1 on a database error. */
int ranks_tick (pg_t *db, int64_t now_ms);

/* analytics.RankRulesGet: RankRulesRequest → RankRules. */
int ranks_api_get (svc_request_t *request, svc_reply_t *reply);

/* analytics.RankRulesUpdate: RankRules → RankRules, the list replaced whole, with the members
   it raises queued (queued). INVALID_ARGUMENT naming rules (more than 20) or rules[i].rank (not
   a member rank: member.RankList); UNAVAILABLE when member did not answer. */
int ranks_api_update (svc_request_t *request, svc_reply_t *reply);

/* analytics.RankRulesPreview: RankRules → RankPreview, what the rules given would do, checked
   as RankRulesUpdate checks them, saving nothing. */
int ranks_api_preview (svc_request_t *request, svc_reply_t *reply);

#endif
