/* member_crypt.c - personal fields encrypted at rest: a data key per member, wrapped by the
   master key; the phone's keyed hash; crypto-shredding by deleting the key */
#include "member_crypt.h"
#include "config.h"
#include "log.h"
#include "member_record.h"
#include <assert.h>
#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define PREFIX      "k1:"           /* the form's version: AES-256-GCM, base64 */
#define NONCE_SIZE  12
#define TAG_SIZE    16
#define KEY_VERSION "1"
#define CHECK_TEXT  "kaiin member master key check"

/* The fields a leak would hurt, sealed with the member's key: one list for the record, its
   events and the audit log. */
static const char *const s_personal [] = { "phone", "birthday", "address", "note", NULL };

static unsigned char s_wrap_key [32];    /* wraps the data keys, seals the check value */
static unsigned char s_phone_key [32];   /* the phone's keyed hash */

/* key = HMAC-SHA256 (master, label): one key for each use of the master key. */
static void
s_derive (const unsigned char master [32], const char *label, unsigned char key [32])
{
    unsigned int size = 32;
    HMAC (EVP_sha256 (), master, 32, (const unsigned char *) label, strlen (label), key, &size);
}

void
member_crypt_configure (void)
{
    char *text = config_secret ("MEMBER_MASTER_KEY", NULL);
    unsigned char master [32];
    bool ok = strlen (text) == 64;
    for (int i = 0; ok && i < 32; i++) {
        ok = isxdigit ((unsigned char) text [2 * i]) && isxdigit ((unsigned char) text [2 * i + 1]);
        unsigned int byte = 0;
        if (ok)
            sscanf (text + 2 * i, "%2x", &byte);
        master [i] = (unsigned char) byte;
    }
    free (text);
    if (!ok) {
        log_error ("MEMBER_MASTER_KEY must be 64 hex digits (256 bits: openssl rand -hex 32)");
        exit (1);
    }
    s_derive (master, "kaiin member key wrap", s_wrap_key);
    s_derive (master, "kaiin member phone hash", s_phone_key);
}

/* AES-256-GCM of size bytes of plain under key, aad associated: "k1:" base64 (nonce, sealed,
   tag), a new string. NULL when the system gives no randomness. */
static char *
s_seal (const unsigned char key [32], const char *aad, const unsigned char *plain, size_t size)
{
    size_t total = NONCE_SIZE + size + TAG_SIZE;
    unsigned char *sealed = malloc (total);
    char *text = malloc (strlen (PREFIX) + 4 * ((total + 2) / 3) + 1);
    assert (sealed && text);
    int length = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
    bool ok = ctx && getrandom (sealed, NONCE_SIZE, 0) == NONCE_SIZE
           && EVP_EncryptInit_ex (ctx, EVP_aes_256_gcm (), NULL, key, sealed) == 1
           && EVP_EncryptUpdate (ctx, NULL, &length, (const unsigned char *) aad, (int) strlen (aad)) == 1
           && EVP_EncryptUpdate (ctx, sealed + NONCE_SIZE, &length, plain, (int) size) == 1
           && EVP_EncryptFinal_ex (ctx, sealed + NONCE_SIZE + length, &length) == 1
           && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, TAG_SIZE, sealed + NONCE_SIZE + size) == 1;
    EVP_CIPHER_CTX_free (ctx);
    if (ok) {
        memcpy (text, PREFIX, strlen (PREFIX));
        EVP_EncodeBlock ((unsigned char *) text + strlen (PREFIX), sealed, (int) total);
    }
    free (sealed);
    if (!ok)
        free (text);
    return ok? text: NULL;
}

/* Opens text sealed by s_seal: the plain bytes (a new buffer, NUL-terminated, *size bytes),
   or NULL when text is not sealed or does not open under key with aad. */
static unsigned char *
s_open (const unsigned char key [32], const char *aad, const char *text, size_t *size)
{
    if (!text || strncmp (text, PREFIX, strlen (PREFIX)) != 0)
        return NULL;
    text += strlen (PREFIX);
    size_t length = strlen (text);
    if (length % 4 || length < 4 * ((NONCE_SIZE + TAG_SIZE + 2) / 3))
        return NULL;
    unsigned char *sealed = malloc (length / 4 * 3);
    assert (sealed);
    int decoded = EVP_DecodeBlock (sealed, (const unsigned char *) text, (int) length);
    if (decoded >= 0)
        decoded -= (text [length - 1] == '=') + (text [length - 2] == '=');
    if (decoded < NONCE_SIZE + TAG_SIZE) {
        free (sealed);
        return NULL;
    }
    *size = (size_t) decoded - NONCE_SIZE - TAG_SIZE;
    unsigned char *plain = malloc (*size + 1);
    assert (plain);
    int out = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
    bool ok = ctx && EVP_DecryptInit_ex (ctx, EVP_aes_256_gcm (), NULL, key, sealed) == 1
           && EVP_DecryptUpdate (ctx, NULL, &out, (const unsigned char *) aad, (int) strlen (aad)) == 1
           && EVP_DecryptUpdate (ctx, plain, &out, sealed + NONCE_SIZE, (int) *size) == 1
           && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, TAG_SIZE,
                                   sealed + NONCE_SIZE + *size) == 1
           && EVP_DecryptFinal_ex (ctx, plain + out, &out) == 1;
    EVP_CIPHER_CTX_free (ctx);
    free (sealed);
    if (!ok) {
        free (plain);
        return NULL;
    }
    plain [*size] = 0;
    return plain;
}

int
member_crypt_start (pg_t *db)
{
    PGresult *result = pg_run (db, "member_crypt_check", 0, NULL);
    if (!result)
        return log_error ("cannot read member_key_check: %s", pg_sqlstate (db));
    int rc = 0;
    size_t size;
    if (PQntuples (result) == 1) {
        unsigned char *plain = s_open (s_wrap_key, "check", PQgetvalue (result, 0, 0), &size);
        if (!plain || strcmp ((char *) plain, CHECK_TEXT) != 0)
            rc = log_error ("MEMBER_MASTER_KEY is not the master key the members' data keys were"
                            " wrapped with (member_key_check does not open): stopping");
        free (plain);
    }
    else {
        char *sealed = s_seal (s_wrap_key, "check", (const unsigned char *) CHECK_TEXT, strlen (CHECK_TEXT));
        const char *params [] = { sealed };
        rc = sealed? pg_do (db, "member_crypt_check_insert", 1, params): -1;
        free (sealed);
    }
    PQclear (result);
    return rc;
}

void
member_crypt_prepare (pg_t *db)
{
    pg_prepare (db, "member_crypt_check",
            "select sealed from member_key_check where key_version = " KEY_VERSION);
    pg_prepare (db, "member_crypt_check_insert",
            "insert into member_key_check (key_version, sealed) values (" KEY_VERSION ", $1)"
            " on conflict (key_version) do nothing");
    /* the key made now when the member has none (the row not visible yet: the next try) */
    pg_prepare (db, "member_crypt_key_of",
            "with made as (insert into member_keys (member_id, wrapped_key)"
            "  select $1::uuid, $2 where exists (select 1 from members where id = $1::uuid)"
            "  on conflict (member_id) do nothing returning wrapped_key)"
            " select wrapped_key from made union all"
            " select wrapped_key from member_keys where member_id = $1::uuid");
    /* the condition of the index members_clear_fields (010_encryption.sql), which finds them */
    pg_prepare (db, "member_crypt_clear_rows",
            "select id, phone, birthday, address, note from members where erased_at is null"
            " and ((phone <> '' and phone not like '" PREFIX "%')"
            "   or (birthday is not null and birthday not like '" PREFIX "%')"
            "   or (address <> '' and address not like '" PREFIX "%')"
            "   or (note <> '' and note not like '" PREFIX "%'))"
            " order by seq limit 100 for update skip locked");
    pg_prepare (db, "member_crypt_seal_row",
            "update members set phone = $2, birthday = nullif ($3, ''), address = $4, note = $5,"
            " phone_hash = nullif ($6, '') where id = $1");
}

char *
member_crypt_key_new (const char *id, member_key_t *key)
{
    if (getrandom (key->bytes, sizeof key->bytes, 0) != sizeof key->bytes)
        return NULL;
    return s_seal (s_wrap_key, id, key->bytes, sizeof key->bytes);
}

int
member_crypt_key_open (const char *id, const char *wrapped, member_key_t *key)
{
    size_t size = 0;
    unsigned char *plain = s_open (s_wrap_key, id, wrapped, &size);
    bool ok = plain && size == sizeof key->bytes;
    if (ok)
        memcpy (key->bytes, plain, size);
    free (plain);
    return ok? 0: -1;
}

member_rc_t
member_crypt_key_of (pg_t *db, const char *id, member_key_t *key)
{
    member_key_t made;
    member_rc_t rc = MEMBER_ERROR;
    for (int attempt = 0; attempt < 2 && rc == MEMBER_ERROR; attempt++) {
        char *wrapped = member_crypt_key_new (id, &made);
        const char *params [] = { id, wrapped };
        PGresult *result = wrapped? pg_run (db, "member_crypt_key_of", 2, params): NULL;
        free (wrapped);
        if (!result)
            return MEMBER_ERROR;
        if (PQntuples (result) == 0)
            rc = member_record_exists (db, id) == 0? MEMBER_NOT_FOUND: MEMBER_ERROR;
        else
        if (member_crypt_key_open (id, PQgetvalue (result, 0, 0), key) == 0)
            rc = MEMBER_OK;
        else {
            log_error ("the data key of member '%s' does not open under MEMBER_MASTER_KEY", id);
            attempt = 2;
        }
        PQclear (result);
    }
    return rc;
}

char *
member_crypt_seal (const member_key_t *key, const char *id, const char *plain)
{
    if (!*plain)
        return strdup ("");
    char *sealed = s_seal (key->bytes, id, (const unsigned char *) plain, strlen (plain));
    assert (sealed);            /* getrandom fails only before the pool is ready */
    return sealed;
}

void
member_crypt_phone_hash (const char *phone, char hex [65])
{
    char digits [64];
    size_t count = 0;
    for (const char *c = phone; *c && count < sizeof digits; c++)
        if (isdigit ((unsigned char) *c))
            digits [count++] = *c;
    *hex = 0;
    if (count == 0)
        return;
    unsigned char digest [32];
    unsigned int size = sizeof digest;
    HMAC (EVP_sha256 (), s_phone_key, sizeof s_phone_key, (const unsigned char *) digits, count,
          digest, &size);
    for (int i = 0; i < 32; i++)
        snprintf (hex + 2 * i, 3, "%02x", digest [i]);
}

/* The slot of member's string field name. */
static char **
s_field (Kaiin__Member__Member *member, const char *name)
{
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name (&kaiin__member__member__descriptor, name);
    assert (field && field->type == PROTOBUF_C_TYPE_STRING);
    return (char **) ((char *) member + field->offset);
}

/* A string field's value freed, unless it is the protobuf-c default (a static ""). */
static void
s_replace_string (char **slot, char *value)
{
    if (*slot != protobuf_c_empty_string)
        free (*slot);
    *slot = value;
}

void
member_crypt_seal_member (Kaiin__Member__Member *member, const member_key_t *key)
{
    for (int i = 0; s_personal [i]; i++) {
        char **slot = s_field (member, s_personal [i]);
        s_replace_string (slot, member_crypt_seal (key, member->id, *slot));
    }
}

void
member_crypt_open_member (Kaiin__Member__Member *member, const member_key_t *key)
{
    for (int i = 0; s_personal [i]; i++) {
        char **slot = s_field (member, s_personal [i]);
        size_t size;
        unsigned char *plain = key? s_open (key->bytes, member->id, *slot, &size): NULL;
        if (plain)
            s_replace_string (slot, (char *) plain);
        else
        if (!key && strncmp (*slot, PREFIX, strlen (PREFIX)) == 0)
            s_replace_string (slot, strdup (""));
    }
}

Kaiin__Member__Member
member_crypt_public (const Kaiin__Member__Member *member)
{
    Kaiin__Member__Member copy = *member;
    for (int i = 0; s_personal [i]; i++)
        *s_field (&copy, s_personal [i]) = (char *) "";
    return copy;
}

void
member_crypt_seal_changes (char **changes, const char *id, const member_key_t *key)
{
    json_t *object = json_loads (*changes, 0, NULL);
    for (int i = 0; object && s_personal [i]; i++) {
        json_t *pair = json_object_get (object, s_personal [i]);
        for (size_t k = 0; k < json_array_size (pair); k++) {
            const char *plain = json_string_value (json_array_get (pair, k));
            if (plain) {
                char *sealed = member_crypt_seal (key, id, plain);
                json_array_set_new (pair, k, json_string (sealed));
                free (sealed);
            }
        }
    }
    if (object) {
        free (*changes);
        *changes = json_dumps (object, JSON_COMPACT);
        json_decref (object);
    }
}

/* item opened: a new string (its plain value, or "(erased)" without a key), or NULL when it is
   not a sealed string. */
static json_t *
s_opened (json_t *item, const char *id, const member_key_t *key)
{
    const char *text = json_string_value (item);
    if (!text || strncmp (text, PREFIX, strlen (PREFIX)) != 0)
        return NULL;
    size_t size;
    char *plain = key? (char *) s_open (key->bytes, id, text, &size): NULL;
    json_t *opened = json_string (plain? plain: key? text: "(erased)");
    free (plain);
    return opened;
}

/* Opens the sealed strings under value, in place. */
static void
s_open_json (json_t *value, const char *id, const member_key_t *key)
{
    const char *name;
    json_t *item, *opened;
    size_t index;
    if (json_is_object (value))
        json_object_foreach (value, name, item) {
            if ((opened = s_opened (item, id, key)))
                json_object_set_new (value, name, opened);
            else
                s_open_json (item, id, key);
        }
    else
    if (json_is_array (value))
        json_array_foreach (value, index, item) {
            if ((opened = s_opened (item, id, key)))
                json_array_set_new (value, index, opened);
            else
                s_open_json (item, id, key);
        }
}

void
member_crypt_open_json (char **json, const char *id, const char *wrapped)
{
    if (!strstr (*json, "\"" PREFIX))
        return;                         /* nothing sealed: most entries */
    member_key_t key;
    bool have_key = wrapped && member_crypt_key_open (id, wrapped, &key) == 0;
    json_t *value = json_loads (*json, 0, NULL);
    if (!value)
        return;
    s_open_json (value, id, have_key? &key: NULL);
    free (*json);
    *json = json_dumps (value, JSON_COMPACT);
    json_decref (value);
}

int
member_crypt_tick (pg_t *db, int64_t now_ms)
{
    (void) now_ms;
    if (pg_begin (db) == -1)
        return -1;
    PGresult *result = pg_run (db, "member_crypt_clear_rows", 0, NULL);
    if (!result)
        goto fail;
    int rows = PQntuples (result);
    for (int row = 0; row < rows; row++) {
        Kaiin__Member__Member member = KAIIN__MEMBER__MEMBER__INIT;
        member.id = PQgetvalue (result, row, 0);
        member_key_t key;
        if (member_crypt_key_of (db, member.id, &key) != MEMBER_OK)
            goto fail;
        char hex [65];
        member_crypt_phone_hash (PQgetvalue (result, row, 1), hex);
        char *sealed [4];
        for (int i = 0; i < 4; i++) {
            char *value = PQgetvalue (result, row, i + 1);
            size_t size;
            char *plain = (char *) s_open (key.bytes, member.id, value, &size);
            sealed [i] = member_crypt_seal (&key, member.id, plain? plain: value);
            if (plain && i == 0)
                member_crypt_phone_hash (plain, hex);
            free (plain);
        }
        const char *params [] = { member.id, sealed [0], sealed [1], sealed [2], sealed [3], hex };
        int done = pg_do (db, "member_crypt_seal_row", 6, params);
        for (int i = 0; i < 4; i++)
            free (sealed [i]);
        if (done == -1)
            goto fail;
    }
    PQclear (result);
    if (pg_commit (db) == -1)
        return -1;
    if (rows)
        log_info ("sealed the personal fields of %d members written before encryption", rows);
    return rows;
fail:
    PQclear (result);
    pg_rollback (db);
    return -1;
}
