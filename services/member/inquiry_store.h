/* inquiry_store.h - support inquiries and their threads: their SQL, events and audit entries */
#ifndef KAIIN_INQUIRY_STORE_H
#define KAIIN_INQUIRY_STORE_H
#include "audit.h"
#include "inquiry.pb-c.h"
#include "pg.h"
#include <stdint.h>

typedef enum {
    INQUIRY_STORE_OK = 0,
    INQUIRY_STORE_ERROR = -1,       /* database error: see pg_sqlstate / pg_lost */
    INQUIRY_STORE_NOT_FOUND = 1,    /* no such inquiry (or member, when opening or listing) */
    INQUIRY_STORE_STALE = 2,        /* if_version does not match */
    INQUIRY_STORE_BAD_ASSIGNEE = 3, /* the assignee is not an enabled staff account */
    INQUIRY_STORE_NOT_OPEN = 4      /* a reply asked for pending on an inquiry that is not open */
} inquiry_store_rc_t;

/* What a list selects; NULL members match everything. q is the raw search text. */
typedef struct {
    const char *member_id;
    const char *status;
    const char *assignee_id;
    const char *category;
    const char *channel;
    const char *q;
} inquiry_filter_t;

/* Prepares the statements on a worker's connection. Returns 0 or -1. */
int inquiry_store_prepare (pg_t *db);

/* Opens an inquiry for a member, with request->body as its first message written by the actor.
   Appends inquiry.opened and the audit entry in the same transaction. Fills *inquiry (freed
   with inquiry_store_clear) on INQUIRY_STORE_OK; NOT_FOUND when the member does not exist,
   BAD_ASSIGNEE when request->assignee_id is not an enabled staff account. */
inquiry_store_rc_t inquiry_store_open (pg_t *db, const Kaiin__Inquiry__OpenRequest *request,
                                       const audit_actor_t *actor, Kaiin__Inquiry__Inquiry *inquiry);

/* Reads one inquiry with its whole thread into *inquiry (freed with inquiry_store_clear). */
inquiry_store_rc_t inquiry_store_get (pg_t *db, const char *id, Kaiin__Inquiry__Inquiry *inquiry);

/* OK when the member exists, else NOT_FOUND (or ERROR). */
inquiry_store_rc_t inquiry_store_member_exists (pg_t *db, const char *member_id);

/* Fills reply with up to limit inquiries matching filter, newest first, each with its thread,
   from before the position before_seq (0: from the newest). *last_seq is the last one's
   position and *more says whether others follow. Freed with inquiry_store_clear_list. */
inquiry_store_rc_t inquiry_store_list (pg_t *db, const inquiry_filter_t *filter, int64_t before_seq,
                                       int limit, Kaiin__Inquiry__ListReply *reply,
                                       int64_t *last_seq, int *more);

/* Adds a message by author_type/author_id (NULL: the inquiry's member); request->status "pending" also moves an open
   inquiry to pending (NOT_OPEN when it is resolved). Bumps the inquiry's version. Fills
   *message and *inquiry (without its thread), freed with inquiry_store_clear_message and
   inquiry_store_clear. */
inquiry_store_rc_t inquiry_store_reply (pg_t *db, const Kaiin__Inquiry__ReplyRequest *request,
                                        const char *author_type, const char *author_id,
                                        const audit_actor_t *actor, Kaiin__Inquiry__Message *message,
                                        Kaiin__Inquiry__Inquiry *inquiry);

/* Changes the masked fields (status, assignee_id, category, channel) under the precondition.
   Resolving sets resolved_at and appends inquiry.resolved; reopening clears it. Fills *inquiry
   with its thread. An empty mask changes nothing and answers the current state. */
inquiry_store_rc_t inquiry_store_update (pg_t *db, const Kaiin__Inquiry__UpdateRequest *request,
                                         const audit_actor_t *actor, Kaiin__Inquiry__Inquiry *inquiry);

void inquiry_store_clear (Kaiin__Inquiry__Inquiry *inquiry);
void inquiry_store_clear_message (Kaiin__Inquiry__Message *message);
void inquiry_store_clear_list (Kaiin__Inquiry__ListReply *reply);

#endif
