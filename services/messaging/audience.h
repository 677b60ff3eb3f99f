/* audience.h - what messaging knows of members: a projection kept from member's events (name,
   email, rank, status, tags, attributes, signup, last login, marketing consent), unsubscribes
   from mails, suppressed addresses, and erasure */
#ifndef KAIIN_MESSAGING_AUDIENCE_H
#define KAIIN_MESSAGING_AUDIENCE_H
#include "messaging.h"
#include "member.pb-c.h"
#include "suppression.h"
#include <jansson.h>

void audience_prepare (pg_t *db);

/* Applies a member event's payload (borrowed) inside the consumer's transaction:
   member.registered, member.updated and member.withdrawn (a Member), member.tagged and
   member.untagged (a TagEvent with the member after the change): the row is written as the
   member is now; member.erased: the row is deleted, the member's mails lose their address and
   subject, the queued ones are canceled; member.logged_in (a LoggedIn): the last login. Other
   types change nothing. Returns 0 or -1 (database error). */
int audience_apply (pg_t *db, const char *type, const ProtobufCMessage *payload, int64_t now_ms);

/* What a mail to a member needs to know of them. */
typedef struct {
    json_t *values;                   /* {"member": {id, name, name_kana, email, rank, status}} */
    char email [256];
    char status [16];                 /* free | paid | withdrawn */
    bool marketing;                   /* marketing mail may be sent: consent, not unsubscribed since */
    bool suppressed;                  /* the address is on the suppression list */
} audience_member_t;

/* The columns audience_row reads, of the members row named p and its member_facts row named f
   (AUDIENCE_FACTS: a query joins both). */
#define AUDIENCE_COLUMNS "p.id as member_id, p.email, p.name, p.name_kana, p.status, p.rank," \
    " p.marketing, " SUPPRESSION_LISTED ("p.email") " as suppressed," \
    " coalesce (f.purchase_count, 0) as purchase_count, coalesce (f.purchase_total, 0) as purchase_total"

#define AUDIENCE_FACTS " left join member_facts f on f.member_id = p.id"

/* Reads a row of AUDIENCE_COLUMNS into member (the caller decrefs member->values). Returns 0,
   or 1 when the row has no member (member_id null: a join found none, or no such row). */
int audience_row (PGresult *result, int row, audience_member_t *member);

/* Loads member id into member (the caller decrefs member->values). Returns 0, 1 when
   messaging knows no such member (never registered, or erased), -1 on a database error. */
int audience_load (pg_t *db, const char *id, audience_member_t *member);

/* A sample member for a test send to email: "テスト 太郎", free, basic (the caller decrefs
   member->values). */
void audience_sample (audience_member_t *member, const char *email);

/* Records a one-click unsubscribe of the member mail_id went to, at now_ms (on the member and
   on the mail, which counts it in its campaign's figures), and appends member.unsubscribed.
   Returns 0, 1 when the mail or its member is unknown (erased), -1. */
int audience_unsubscribe (pg_t *db, const char *mail_id, int64_t now_ms);

svc_handler_fn audience_api_consent;

#endif
