/* billing_events.c - billing's subscription events set a member's status (paid or free) and
   the rank of the plan they pay for */
#include "billing_events.h"
#include "attribute.h"
#include "audit.h"
#include "billing.pb-c.h"
#include "log.h"
#include "member_record.h"
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* What billing's events decide on: the member's status, rank, the rank billing gave ("" when
   none) and whether the member's data was erased. */
typedef struct {
    char status [16];
    char rank [64];
    char billing_rank [64];
    bool erased;
} billing_state_t;

void
billing_events_prepare (pg_t *db)
{
    pg_prepare (db, "member_billing_lock",
            "select status, rank, coalesce (billing_rank, ''), erased_at is not null from members"
            " where id = $1 for update");
    pg_prepare (db, "member_billing_rank_set",
            "update members set billing_rank = nullif ($2, '') where id = $1");
}

/* What billing's events decide on for member id, locked (for update) until the consumer's
   transaction ends: MEMBER_OK with *state, MEMBER_NOT_FOUND or MEMBER_ERROR. */
static member_rc_t
s_lock (pg_t *db, const char *id, billing_state_t *state)
{
    const char *params [] = { id };
    PGresult *result;
    member_rc_t rc = member_one (db, "member_billing_lock", 1, params, &result);
    if (rc == MEMBER_OK) {
        snprintf (state->status, sizeof state->status, "%s", PQgetvalue (result, 0, 0));
        snprintf (state->rank, sizeof state->rank, "%s", PQgetvalue (result, 0, 1));
        snprintf (state->billing_rank, sizeof state->billing_rank, "%s", PQgetvalue (result, 0, 2));
        state->erased = strcmp (PQgetvalue (result, 0, 3), "t") == 0;
        PQclear (result);
    }
    return rc;
}

/* Records (inside the consumer's transaction) the rank billing gave the member; "" for none.
   Returns 0 or -1. */
static int
s_set_billing_rank (pg_t *db, const char *id, const char *rank)
{
    const char *params [] = { id, rank };
    PGresult *result = pg_run (db, "member_billing_rank_set", 2, params);
    if (!result)
        return -1;
    PQclear (result);
    return 0;
}

/* Decides and writes the member's change. Returns 0 or -1 (database error). */
static int
s_apply (pg_t *db, const Kaiin__Event *event, const Kaiin__Billing__Subscription *subscription,
         int64_t now_ms)
{
    const char *id = subscription->member_id;
    billing_state_t state;
    member_rc_t rc = s_lock (db, id, &state);
    if (rc == MEMBER_ERROR)
        return -1;
    if (rc == MEMBER_NOT_FOUND) {
        log_warn ("billing event %lld ('%s'): no member '%s', skipped", (long long) event->seq,
                  event->type, id);
        return 0;
    }
    if (strcmp (state.status, "withdrawn") == 0 || state.erased) {
        log_info ("billing event %lld ('%s'): member '%s' is %s, skipped", (long long) event->seq,
                  event->type, id, state.erased? "erased": "withdrawn");
        return 0;
    }
    const char *status = subscription->member_paid? "paid": "free";
    const char *rank = state.rank;
    const char *billing_rank = state.billing_rank;
    if (subscription->member_paid && *subscription->member_rank) {
        int known = attribute_rank_exists (db, subscription->member_rank);
        if (known == -1)
            return -1;
        if (known)
            rank = billing_rank = subscription->member_rank;
        else
            log_warn ("billing event %lld ('%s'): rank '%s' is not a member rank; member '%s'"
                      " keeps rank '%s'", (long long) event->seq, event->type,
                      subscription->member_rank, id, state.rank);
    }
    else
    if (!subscription->member_paid && *state.billing_rank) {
        /* No longer paid: the rank billing gave goes back to basic, one staff chose stays. */
        if (strcmp (state.rank, state.billing_rank) == 0)
            rank = "basic";
        billing_rank = "";
    }
    bool status_changes = strcmp (status, state.status) != 0;
    bool rank_changes = strcmp (rank, state.rank) != 0;
    if (status_changes || rank_changes) {
        char *mask [2];
        size_t masked = 0;
        if (status_changes)
            mask [masked++] = "status";
        if (rank_changes)
            mask [masked++] = "rank";
        Kaiin__Member__UpdateRequest update = KAIIN__MEMBER__UPDATE_REQUEST__INIT;
        update.id = (char *) id;
        update.update_mask = mask;
        update.n_update_mask = masked;
        update.status = (char *) status;
        update.rank = (char *) rank;
        audit_actor_t actor = { "billing", "service", event->id, "", now_ms };
        Kaiin__Member__Member *member;
        rc = member_record_update (db, &update, &actor, &member);
        if (rc == MEMBER_ERROR)
            return -1;
        if (rc != MEMBER_OK) {
            log_warn ("billing event %lld ('%s'): member '%s' cannot be updated (%d), skipped",
                      (long long) event->seq, event->type, id, (int) rc);
            return 0;
        }
        protobuf_c_message_free_unpacked (&member->base, NULL);
    }
    if (strcmp (billing_rank, state.billing_rank) != 0
    &&  s_set_billing_rank (db, id, billing_rank) == -1)
        return -1;
    return 0;
}

int
member_billing_apply (pg_t *db, const Kaiin__Event *event, int64_t now_ms)
{
    if (strncmp (event->type, "subscription.", 13) != 0)
        return 0;
    Kaiin__Billing__Subscription *subscription = kaiin__billing__subscription__unpack (NULL,
        event->payload.len, event->payload.data);
    if (!subscription) {
        log_warn ("billing event %lld ('%s') has a payload that cannot be read, skipped",
                  (long long) event->seq, event->type);
        return 0;
    }
    int rc = 0;
    if (!member_uuid (subscription->member_id))
        log_warn ("billing event %lld ('%s'): member id '%s' is not a UUID, skipped",
                  (long long) event->seq, event->type, subscription->member_id);
    else
        rc = s_apply (db, event, subscription, now_ms);
    kaiin__billing__subscription__free_unpacked (subscription, NULL);
    return rc;
}
