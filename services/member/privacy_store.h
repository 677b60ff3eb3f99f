/* privacy_store.h - the SQL of a member's data rights: a copy of everything, and erasure */
#ifndef KAIIN_PRIVACY_STORE_H
#define KAIIN_PRIVACY_STORE_H
#include "audit.h"
#include "member_store.h"
#include "pg.h"

int privacy_store_prepare (pg_t *db);

/* Everything the member service holds about member id, as a JSON document (a new string the
   caller frees in *json). NOT_FOUND when there is no such member. */
member_store_rc_t privacy_store_export (pg_t *db, const char *id, char **json);

/* Anonymises member id in one transaction: the record's personal fields, its tags, password,
   the addresses and agents of its logins, its activities' paths and properties, its inquiries'
   texts; sets it withdrawn and erased; appends member.erased and an audit entry (reason, no
   personal data). Fills *member with the record afterwards. WITHDRAWN when it was erased
   already (an erasure happens once). */
member_store_rc_t privacy_store_erase (pg_t *db, const char *id, const char *reason,
                                       const audit_actor_t *actor, Kaiin__Member__Member *member);

#endif
