/* member_tag.h - a member's tags: added and removed together, one event a tag that changed;
   the same change for many members at once */
#ifndef KAIIN_MEMBER_TAG_H
#define KAIIN_MEMBER_TAG_H
#include "audit.h"
#include "member.h"

void member_tag_prepare (pg_t *db);

/* member.Tag: roles that may tag (owner, admin, support, marketing; the gateway checks). */
svc_handler_fn member_api_tag;

/* Adds and removes tags (the request's lists hold distinct tags, none in both) in one
   transaction: one member.tagged or member.untagged event per tag that changed, one audit
   entry. Nothing changing leaves the member as it was. *member (the caller frees it) is the
   record afterwards; MEMBER_NOT_FOUND, MEMBER_STALE, MEMBER_TOO_MANY_TAGS or MEMBER_ERROR. */
member_rc_t member_tag_change (pg_t *db, const Kaiin__Member__TagRequest *request,
                               const audit_actor_t *actor, Kaiin__Member__Member **member);

/* The most members one member.TagMany names. */
#define MEMBER_TAG_MANY_MAX 1000

/* member.TagMany: the same roles as member.Tag (the gateway checks). */
svc_handler_fn member_api_tag_many;

/* Makes request's tag change (its lists checked as member.Tag checks them) to each member its
   member_ids name (1 to MEMBER_TAG_MANY_MAX distinct UUIDs), in one transaction: each member
   as member_tag_change makes it (a member whose tags would not change keeps its version and
   gets no event or audit entry); the members are locked in id order first. Fills counts:
   matched, changed, and not_found, an array the caller frees whose strings are borrowed from
   request (free it before request). MEMBER_OK, else nothing is kept: MEMBER_TOO_MANY_TAGS
   (a member would have too many: *over is its index in member_ids) or MEMBER_ERROR. */
member_rc_t member_tag_change_many (pg_t *db, const Kaiin__Member__TagManyRequest *request,
                                    const audit_actor_t *actor,
                                    Kaiin__Member__TagManyReply *counts, size_t *over);

#endif
