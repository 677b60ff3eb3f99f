/* member_bulk.h - many new members at once, the path of a large import: which emails are
   members already, then COPY of the members with their tags, consents, events and audit
   entries in the caller's transaction */
#ifndef KAIIN_MEMBER_BULK_H
#define KAIIN_MEMBER_BULK_H
#include "audit.h"
#include "member.h"

void member_bulk_prepare (pg_t *db);

/* The members among emails (lower-cased, one per line): rows of (lower (email), id). Returns
   the result, which the caller PQclears, or NULL on a database error. */
PGresult *member_bulk_ids_by_email (pg_t *db, const char *emails);

/* Inserts new members all at once (COPY), inside the caller's transaction, with their tags,
   consents, member.registered and member.tagged events and audit entries, each by its actor
   (actors [i] created members [i], at its now_ms). Each member is complete as the caller built
   it (a new UUID, defaults filled in, tags sorted and unique). MEMBER_DUPLICATE when an email is
   taken, MEMBER_NO_RANK for an unknown rank. */
member_rc_t member_bulk_insert (pg_t *db, Kaiin__Member__Member *const *members, size_t count,
                                const audit_actor_t *const *actors);

#endif
