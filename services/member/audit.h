/* audit.h - the append-only audit log: who did what to which record, before and after */
#ifndef KAIIN_AUDIT_H
#define KAIIN_AUDIT_H
#include "audit.pb-c.h"
#include "member.h"

typedef struct {
    const char *actor_id;
    const char *actor_role;
    const char *request_id;
    const char *ip;
    int64_t now_ms;
} audit_actor_t;

/* The actor of a request, from its envelope (borrowed strings). */
audit_actor_t audit_actor_of (svc_request_t *request, int64_t now_ms);

void audit_prepare (pg_t *db);

/* Appends one entry inside the caller's transaction. changes is a JSON object's text
   ({"field": [before, after]}) or NULL. Returns 0 or -1. */
int audit_append (pg_t *db, const audit_actor_t *actor, const char *action,
                  const char *target_type, const char *target_id, const char *changes);

/* In one transaction: runs a statement and appends the entry of action on target_type's
   target_id, or, when target_id is NULL, on the first column of the statement's first row.
   MEMBER_DUPLICATE when the statement broke a unique constraint; MEMBER_NOT_FOUND when
   target_id is NULL and the statement found no row. On MEMBER_OK, *result (unless NULL) is
   the statement's result, which the caller PQclears. */
member_rc_t audit_run (pg_t *db, const char *statement, int count, const char *const *params,
                       const audit_actor_t *actor, const char *action, const char *target_type,
                       const char *target_id, const char *changes, PGresult **result);

/* member.AuditList: entries newest first, filtered (owner and admin only). */
svc_handler_fn audit_api_list;

#endif
