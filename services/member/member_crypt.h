/* member_crypt.h - personal fields encrypted at rest: a data key per member, wrapped by the
   master key; the phone's keyed hash; crypto-shredding by deleting the key */
#ifndef KAIIN_MEMBER_CRYPT_H
#define KAIIN_MEMBER_CRYPT_H
#include "member.h"

/* A member's data key (AES-256-GCM), open in memory only. */
typedef struct {
    unsigned char bytes [32];
} member_key_t;

/* Reads the master key: MEMBER_MASTER_KEY or the first line of MEMBER_MASTER_KEY_FILE, 64 hex
   digits. Missing or malformed, it logs why and exits (start-up configuration). */
void member_crypt_configure (void);

/* Once after the migrations, before any worker: checks the master key against the value it
   sealed when first used (sealing it when there is none). Returns 0, or -1 when the key is
   not the one the data was written with (logged). */
int member_crypt_start (pg_t *db);

void member_crypt_prepare (pg_t *db);

/* A new random data key for member id into *key, and its wrapped text (a new string the
   caller frees) for member_keys. NULL when the system gives no randomness. */
char *member_crypt_key_new (const char *id, member_key_t *key);

/* The data key of member id from its wrapped text. Returns 0, or -1 when wrapped is NULL or
   does not open under the master key. */
int member_crypt_key_open (const char *id, const char *wrapped, member_key_t *key);

/* The data key of existing member id, made and stored (member_keys) when it has none yet.
   MEMBER_OK, MEMBER_NOT_FOUND (no such member) or MEMBER_ERROR. */
member_rc_t member_crypt_key_of (pg_t *db, const char *id, member_key_t *key);

/* plain sealed under key with id as associated data, as "k1:" and base64: a new string the
   caller frees; "" stays "". */
char *member_crypt_seal (const member_key_t *key, const char *id, const char *plain);

/* The keyed hash of the phone's digits (64 hex digits) into hex; "" when it has none. */
void member_crypt_phone_hash (const char *phone, char hex [65]);

/* Replaces member's personal fields (phone, birthday, address, note) by their sealed text
   (sealed), or their sealed text by the plain value (open: a value that does not open stays as
   it is, and with key NULL a sealed one becomes ""). The strings are the message's own. */
void member_crypt_seal_member (Kaiin__Member__Member *member, const member_key_t *key);
void member_crypt_open_member (Kaiin__Member__Member *member, const member_key_t *key);

/* member as its events carry it: a shallow copy (sharing its strings) without the personal
   fields, which stay in the member service. */
Kaiin__Member__Member member_crypt_public (const Kaiin__Member__Member *member);

/* An audit entry's changes ({"field": [before, after]}, a malloc'd JSON text, replaced):
   seal seals the values of the personal fields; open opens every sealed string of any JSON
   document, or writes "(erased)" for it when wrapped (member id's key) is NULL or does not
   open (the member's data was erased). */
void member_crypt_seal_changes (char **changes, const char *id, const member_key_t *key);
void member_crypt_open_json (char **json, const char *id, const char *wrapped);

/* The tick: seals the personal fields of up to 100 rows holding clear values (written before
   encryption, or by hand), each member given its data key. Returns how many, or -1. */
int member_crypt_tick (pg_t *db, int64_t now_ms);

#endif
