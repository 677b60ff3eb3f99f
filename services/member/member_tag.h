/* member_tag.h - a member's tags: added and removed together, one event a tag that changed */
#ifndef KAIIN_MEMBER_TAG_H
#define KAIIN_MEMBER_TAG_H
#include "audit.h"
#include "member.h"

int member_tag_prepare (pg_t *db);

/* member.Tag: roles that may tag (owner, admin, support, marketing; the gateway checks). */
svc_handler_fn member_api_tag;

/* Adds and removes tags (the request's lists hold distinct tags, none in both) in one
   transaction: one member.tagged or member.untagged event per tag that changed, one audit
   entry. Nothing changing leaves the member as it was. *member (the caller frees it) is the
   record afterwards; MEMBER_NOT_FOUND, MEMBER_STALE, MEMBER_TOO_MANY_TAGS or MEMBER_ERROR. */
member_rc_t member_tag_change (pg_t *db, const Kaiin__Member__TagRequest *request,
                               const audit_actor_t *actor, Kaiin__Member__Member **member);

#endif
