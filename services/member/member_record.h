/* member_record.h - a member's record: created, read (alone or many at once), changed,
   withdrawn; its row, its events, and the audit log's before and after */
#ifndef KAIIN_MEMBER_RECORD_H
#define KAIIN_MEMBER_RECORD_H
#include "audit.h"
#include "member.h"

/* A member's row, named as the fields of Member and of its marketing consent (Consent), then
   seq, created_us (created_at in microseconds: a listing's key) and wrapped_key (its data key,
   member_crypt.h; NULL once erased). */
#define MEMBER_COLUMNS \
    "id, email, name, name_kana, phone, status, version, " MS ("created_at") " as created_at_ms," \
    " " MS ("updated_at") " as updated_at_ms, " MS ("withdrawn_at") " as withdrawn_at_ms," \
    " withdrawn_reason, birthday::text as birthday, postal_code, prefecture, address, rank," \
    " array (select t.tag from member_tags t where t.member_seq = members.seq order by t.tag) as tags," \
    " attributes::text as attributes_json, note, " MS ("last_login_at") " as last_login_at_ms," \
    " consent_opt_in as email_opt_in, " MS ("consent_at") " as at_ms, consent_method as method," \
    " consent_source as source, seq, (extract (epoch from created_at) * 1000000)::bigint as created_us," \
    " (select k.wrapped_key from member_keys k where k.member_id = members.id) as wrapped_key"

void member_record_prepare (pg_t *db);

/* Each serves one method of the member service (see proto/member.proto). Create and Update
   refuse status and rank from roles other than owner and admin (PERMISSION_DENIED naming the
   field). A viewer reads phones masked and no address. */
svc_handler_fn member_api_create, member_api_get, member_api_update, member_api_withdraw;

/* member.Get for the requests a batch worker holds: the members they may read, in one
   statement. */
svc_batch_fn member_api_get_many;

/* member.Create for a group of requests committed together: those without attributes checked,
   then written at once as an import writes its new members (member_bulk_insert) and read back
   in one statement; an email taken already, or earlier in the group, answered as Create
   answers it. Requests with attributes go to Create. */
svc_group_fn member_api_create_group;

/* The member of a row of MEMBER_COLUMNS, its personal fields opened with its data key: a new
   message the caller frees with protobuf_c_message_free_unpacked. */
Kaiin__Member__Member *member_record_of_row (PGresult *result, int row);

/* Reads member id: MEMBER_OK with *member (the caller frees it), MEMBER_NOT_FOUND or
   MEMBER_ERROR. */
member_rc_t member_record_get (pg_t *db, const char *id, Kaiin__Member__Member **member);

/* Locks member id's row until the caller's transaction ends and reads it: *member (the caller
   frees it) and, unless seq is NULL, *seq on MEMBER_OK; MEMBER_NOT_FOUND or MEMBER_ERROR. */
member_rc_t member_record_lock (pg_t *db, const char *id, Kaiin__Member__Member **member,
                                int64_t *seq);

/* Writes a new member, or the masked fields of one (refusing a withdrawn member's status),
   with its event (member.registered, member.updated) and audit entry in one transaction; a
   consent in the request is also added to the member's consent history. *member (the caller
   frees it) is the record afterwards. MEMBER_DUPLICATE when another member has the email,
   MEMBER_NO_RANK for an unknown rank; an update may be MEMBER_NOT_FOUND, MEMBER_STALE or
   MEMBER_WITHDRAWN. An empty mask changes nothing and answers the record as it is. */
member_rc_t member_record_create (pg_t *db, const Kaiin__Member__CreateRequest *request,
                                  const audit_actor_t *actor, Kaiin__Member__Member **member);
member_rc_t member_record_update (pg_t *db, const Kaiin__Member__UpdateRequest *request,
                                  const audit_actor_t *actor, Kaiin__Member__Member **member);

/* What a write of members that failed came to: MEMBER_DUPLICATE when another member has the
   email (a unique violation), MEMBER_NO_RANK when the rank is not one of member_ranks (the
   foreign key), else MEMBER_ERROR. */
member_rc_t member_record_refused (pg_t *db);

/* Answers member (then freed), masked for a viewer, on MEMBER_OK; else fails the reply as rc
   says (NOT_FOUND, ALREADY_EXISTS naming email, ABORTED, ...). Returns 0 or -1. */
int member_record_answer (svc_request_t *request, svc_reply_t *reply, member_rc_t rc,
                          Kaiin__Member__Member *member);

/* A viewer reads members with the phone number masked to its last four digits and the
   address hidden; others as they are. */
void member_record_mask (svc_request_t *request, Kaiin__Member__Member *member);

/* Whether the caller reads the phone masked: then it cannot search by it either, or it
   could find the hidden digits one query at a time. */
bool member_record_masks_phone (const svc_request_t *request);

/* Fails reply with NOT_FOUND ("no such member") unless member_id names a member (a malformed
   id names none), or with the database's error. Returns 0 or -1. */
int member_record_require (svc_request_t *request, svc_reply_t *reply, const char *member_id);

/* 1 when member id exists, 0 when not, -1 on a database error. */
int member_record_exists (pg_t *db, const char *id);

/* The fields that differ between two states of a member as {"field": [before, after]};
   before NULL means "created". Returns a new string the caller frees. */
char *member_record_changes (const Kaiin__Member__Member *before, const Kaiin__Member__Member *after);

#endif
