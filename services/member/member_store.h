/* member_store.h - all of the member service's SQL for the member record: the members table,
   tags, consents, search, and their events */
#ifndef KAIIN_MEMBER_STORE_H
#define KAIIN_MEMBER_STORE_H
#include "member.pb-c.h"
#include "audit.h"
#include "pg.h"
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    MEMBER_STORE_OK = 0,
    MEMBER_STORE_ERROR = -1,        /* database error: see pg_sqlstate / pg_lost */
    MEMBER_STORE_NOT_FOUND = 1,
    MEMBER_STORE_DUPLICATE = 2,     /* another member has this email */
    MEMBER_STORE_STALE = 3,         /* if_version does not match */
    MEMBER_STORE_WITHDRAWN = 4,     /* already withdrawn */
    MEMBER_STORE_NO_RANK = 5,       /* the rank is not one of member_ranks */
    MEMBER_STORE_TOO_MANY_TAGS = 6, /* the change would leave more than MEMBER_STORE_TAGS_MAX */
    MEMBER_STORE_LAST_OWNER = 7     /* staff: the last enabled owner cannot be demoted or disabled */
} member_store_rc_t;

#define MEMBER_STORE_TAGS_MAX 100

/* The orders member_store_list can walk in, each with its own cursor. */
typedef enum {
    MEMBER_SORT_SEQ = 0,            /* creation order, as the rows were inserted */
    MEMBER_SORT_CREATED,
    MEMBER_SORT_CREATED_DESC,
    MEMBER_SORT_KANA,
    MEMBER_SORT_KANA_DESC
} member_sort_t;

/* A position in a listing: the last row's sort key and seq. */
typedef struct {
    bool set;                       /* false: from the start */
    char key [320];                 /* microseconds of created_at in decimal, or name_kana */
    int64_t seq;
} member_position_t;

/* What member_store_list looks for; every text may be "" (no filter) and every time 0. */
typedef struct {
    member_sort_t sort;
    member_position_t after;
    int limit;
    const char *status;
    const char *email;              /* exact, case-insensitive */
    const char *q;                  /* partial match over the normalised search text */
    bool q_selective;               /* q is long enough for the trigram index (3 characters) */
    const char *rank;
    const char *tags_array;         /* a PostgreSQL array literal of tags, "{}" for none */
    bool tags_all;                  /* every tag (else any) */
    const char *attributes;         /* a JSON object the attributes must contain, or "" */
    int64_t created_from_ms, created_to_ms, last_login_from_ms, last_login_to_ms;
} member_query_t;

/* Prepares the statements on a worker's connection. Returns 0 or -1. */
int member_store_prepare (pg_t *db);

/* Each fills *member (freed with member_store_clear) on MEMBER_STORE_OK. Writes append their
   event to the outbox and their entry to the audit log in the same transaction; a consent in
   the request is also added to the member's consent history. */
member_store_rc_t member_store_create (pg_t *db, const Kaiin__Member__CreateRequest *request,
                                       const audit_actor_t *actor, Kaiin__Member__Member *member);
member_store_rc_t member_store_get (pg_t *db, const char *id, Kaiin__Member__Member *member);
/* Several at once, by valid uuid: found [i] tells whether members [i] was filled. OK or ERROR. */
member_store_rc_t member_store_get_many (pg_t *db, const char *const *ids, int count,
                                         Kaiin__Member__Member *members, bool *found);
member_store_rc_t member_store_update (pg_t *db, const Kaiin__Member__UpdateRequest *request,
                                       const audit_actor_t *actor, Kaiin__Member__Member *member);
member_store_rc_t member_store_withdraw (pg_t *db, const Kaiin__Member__WithdrawRequest *request,
                                         const audit_actor_t *actor, Kaiin__Member__Member *member);

/* Adds and removes tags (the request's lists hold distinct tags, none in both) in one
   transaction: one member.tagged or member.untagged event per tag that changed, one audit
   entry. Nothing changing leaves the member as it was. */
member_store_rc_t member_store_tag (pg_t *db, const Kaiin__Member__TagRequest *request,
                                    const audit_actor_t *actor, Kaiin__Member__Member *member);

/* Fills reply with up to query->limit members after query->after in query->sort's order;
   *last is the last one's position and *more says whether others follow. Members are freed
   with member_store_clear_list. */
member_store_rc_t member_store_list (pg_t *db, const member_query_t *query,
                                     Kaiin__Member__ListReply *reply, member_position_t *last,
                                     int *more);

/* The members among emails (lower-cased, one per line): rows of (lower (email), id). Returns
   the result, which the caller PQclears, or NULL on a database error. */
PGresult *member_store_ids_by_email (pg_t *db, const char *emails);

/* Inserts new members all at once (COPY), inside the caller's transaction, with their tags,
   consents, member.registered and member.tagged events and audit entries: the path of a large
   import. Each member is complete as the caller built it (a new UUID, defaults filled in, tags
   sorted and unique). DUPLICATE when an email is taken, NO_RANK for an unknown rank. */
member_store_rc_t member_store_insert_bulk (pg_t *db, Kaiin__Member__Member *const *members,
                                            size_t count, const audit_actor_t *actor);

/* What billing's events decide on, for member id, locked (for update) until the caller's
   transaction ends: NOT_FOUND, or OK with status, rank, billing_rank ("" when billing gave
   none) and whether the member's data was erased. */
typedef struct {
    char status [16];
    char rank [64];
    char billing_rank [64];
    bool erased;
} member_billing_state_t;

member_store_rc_t member_store_billing_lock (pg_t *db, const char *id, member_billing_state_t *state);

/* Records (inside the caller's transaction) the rank billing gave the member; "" for none.
   Returns 0 or -1. */
int member_store_set_billing_rank (pg_t *db, const char *id, const char *rank);

/* 1 when rank is one of member_ranks, 0 when not, -1 on a database error. */
int member_store_rank_exists (pg_t *db, const char *rank);

void member_store_clear (Kaiin__Member__Member *member);
void member_store_clear_list (Kaiin__Member__ListReply *reply);

/* The fields that differ between two states of a member as {"field": [before, after]};
   before NULL means "created". Returns a new string the caller frees. */
char *member_store_changes (const Kaiin__Member__Member *before, const Kaiin__Member__Member *after);

#endif
