/* audit.h - the append-only audit log: who did what to which record, before and after */
#ifndef KAIIN_AUDIT_H
#define KAIIN_AUDIT_H
#include "member.pb-c.h"
#include "pg.h"
#include "svc.h"
#include "audit.pb-c.h"

typedef struct {
    const char *actor_id;
    const char *actor_role;
    const char *request_id;
    const char *ip;
    int64_t now_ms;
} audit_actor_t;

/* The actor of a request, from its envelope (borrowed strings). */
audit_actor_t audit_actor_of (svc_request_t *request, int64_t now_ms);

int audit_prepare (pg_t *db);

/* Appends one entry inside the caller's transaction. changes is a JSON object's text
   ({"field": [before, after]}) or NULL. Returns 0 or -1. */
int audit_append (pg_t *db, const audit_actor_t *actor, const char *action,
                  const char *target_type, const char *target_id, const char *changes);

/* member.AuditList: entries newest first, filtered (owner and admin only). */
int audit_api_list (svc_request_t *request, svc_reply_t *reply);

#endif
