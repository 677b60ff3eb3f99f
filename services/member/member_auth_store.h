/* member_auth_store.h - member passwords, login attempts and activities: their SQL */
#ifndef KAIIN_MEMBER_AUTH_STORE_H
#define KAIIN_MEMBER_AUTH_STORE_H
#include "audit.h"
#include "member_auth.pb-c.h"
#include "member_store.h"
#include "pg.h"
#include <stdbool.h>
#include <stdint.h>

/* Prepares the statements on a worker's connection. Returns 0 or -1. */
int member_auth_store_prepare (pg_t *db);

/* What a login needs to know about the member an email names. */
typedef struct {
    char id [40];                   /* "" when no member has the email */
    bool withdrawn;
    char *password_hash;            /* owned; NULL when the member has no password */
} member_auth_store_account_t;

/* Finds the member by email (case-insensitive). OK fills account (free its hash with
   member_auth_store_account_clear), NOT_FOUND leaves account->id empty, ERROR on a database
   error. */
member_store_rc_t member_auth_store_find_email (pg_t *db, const char *email,
                                                member_auth_store_account_t *account);

/* Reads the member's status and password hash by id: NOT_FOUND for no such member. */
member_store_rc_t member_auth_store_find_id (pg_t *db, const char *member_id,
                                             member_auth_store_account_t *account);
void member_auth_store_account_clear (member_auth_store_account_t *account);

/* In one transaction: records the attempt in member_logins and the audit log, and when it
   succeeded sets the member's last_login_at and appends member.logged_in to the outbox.
   Returns 0 or -1. */
int member_auth_store_record_login (pg_t *db, const audit_actor_t *actor,
                                    const Kaiin__MemberAuth__Login *login);

/* Sets (or replaces) the member's password hash, with an audit entry, in one transaction.
   NOT_FOUND when the member does not exist. */
member_store_rc_t member_auth_store_set_password (pg_t *db, const char *member_id,
                                                  const char *password_hash,
                                                  const audit_actor_t *actor);

/* Fills reply with up to limit of the member's login attempts before position before_seq
   (0: the newest), at or after from_ms and before to_ms when not 0; *last_seq is the last
   one's position and *more says whether older ones follow. Free with
   member_auth_store_clear_logins. */
member_store_rc_t member_auth_store_list_logins (pg_t *db, const Kaiin__MemberAuth__ListLoginsRequest *request,
                                                 int64_t before_seq, int limit,
                                                 Kaiin__MemberAuth__ListLoginsReply *reply,
                                                 int64_t *last_seq, int *more);
void member_auth_store_clear_logins (Kaiin__MemberAuth__ListLoginsReply *reply);

/* In one transaction: inserts every activity of request (occurred_at_ms already set), each
   with its member.activity event, and fills reply with the stored ones (free with
   member_auth_store_clear_activities). NOT_FOUND when the member does not exist. */
member_store_rc_t member_auth_store_record_activities (pg_t *db,
                                                       const Kaiin__MemberAuth__RecordActivitiesRequest *request,
                                                       int64_t now_ms,
                                                       Kaiin__MemberAuth__RecordActivitiesReply *reply);
void member_auth_store_clear_activities (Kaiin__MemberAuth__Activity **activities, size_t count);

/* Fills reply with up to limit activities, newest first, after the cursor position
   (before_ms, before_seq) when before_seq is not 0; *last_ms and *last_seq are the last one's
   position and *more says whether others follow. */
member_store_rc_t member_auth_store_list_activities (pg_t *db,
                                                     const Kaiin__MemberAuth__ListActivitiesRequest *request,
                                                     int64_t before_ms, int64_t before_seq, int limit,
                                                     Kaiin__MemberAuth__ListActivitiesReply *reply,
                                                     int64_t *last_ms, int64_t *last_seq, int *more);

/* True when the member exists (-1 on a database error). */
int member_auth_store_member_exists (pg_t *db, const char *member_id);

#endif
