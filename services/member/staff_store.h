/* staff_store.h - staff accounts and API keys: their SQL */
#ifndef KAIIN_STAFF_STORE_H
#define KAIIN_STAFF_STORE_H
#include "audit.h"
#include "member_store.h"
#include "pg.h"
#include "staff.pb-c.h"

int staff_store_prepare (pg_t *db);

/* Inserts an account with its password hash; DUPLICATE when the email is taken. */
member_store_rc_t staff_store_create (pg_t *db, const Kaiin__Staff__CreateRequest *request,
                                      const char *password_hash, const audit_actor_t *actor,
                                      Kaiin__Staff__Staff *staff);

/* Reads an account by id, or by email (case-insensitive) with its password hash in
   *password_hash (caller frees) when password_hash is not NULL. */
member_store_rc_t staff_store_get (pg_t *db, const char *id, Kaiin__Staff__Staff *staff);
member_store_rc_t staff_store_find_email (pg_t *db, const char *email, Kaiin__Staff__Staff *staff,
                                          char **password_hash);

/* Records a login attempt in the audit log (and the account's last login when it succeeded). */
int staff_store_record_login (pg_t *db, const audit_actor_t *actor, const char *staff_id,
                              const char *email, bool succeeded, const char *user_agent);

/* Changes the masked fields (password_hash replaces the hash when not NULL). */
member_store_rc_t staff_store_update (pg_t *db, const Kaiin__Staff__UpdateRequest *request,
                                      const char *password_hash, const audit_actor_t *actor,
                                      Kaiin__Staff__Staff *staff);

/* Counts the enabled owners. Returns the count, or -1. */
int staff_store_owner_count (pg_t *db);

member_store_rc_t staff_store_list (pg_t *db, int64_t after_seq, int limit,
                                    Kaiin__Staff__ListReply *reply, int64_t *last_seq, int *more);

member_store_rc_t staff_store_key_create (pg_t *db, const Kaiin__Staff__CreateApiKeyRequest *request,
                                          const audit_actor_t *actor, Kaiin__Staff__ApiKey *key);
member_store_rc_t staff_store_key_verify (pg_t *db, const char *secret_sha256, Kaiin__Staff__ApiKey *key);
member_store_rc_t staff_store_key_revoke (pg_t *db, const char *id, const audit_actor_t *actor,
                                          Kaiin__Staff__ApiKey *key);
member_store_rc_t staff_store_key_list (pg_t *db, Kaiin__Staff__ListApiKeysReply *reply);

void staff_store_clear (Kaiin__Staff__Staff *staff);
void staff_store_clear_key (Kaiin__Staff__ApiKey *key);

#endif
