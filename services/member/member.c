/* member.c - what every module of kaiin-member shares: rows into messages, ids, the "m"
   cursors, the request's time */
#include "member.h"
#include "clock.h"
#include <assert.h>
#include <ctype.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

int64_t
member_now (const svc_request_t *request)
{
    return request->envelope->now_ms? request->envelope->now_ms: clock_now_ms ();
}

bool
member_uuid (const char *text)
{
    if (strlen (text) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash? text [i] != '-': !isxdigit ((unsigned char) text [i]))
            return false;
    }
    return true;
}

size_t
member_chars (const char *text)
{
    size_t count = 0;
    for (const unsigned char *c = (const unsigned char *) text; *c; c++)
        count += (*c & 0xC0) != 0x80;
    return count;
}

bool
member_id_ok (svc_reply_t *reply, const char *id, const char *not_found)
{
    if (reply->status != KAIIN__STATUS__OK)
        return false;
    if (member_uuid (id))
        return true;
    svc_fail_say (reply, KAIIN__STATUS__NOT_FOUND, not_found);
    return false;
}

member_rc_t
member_one (pg_t *db, const char *statement, int count, const char *const *params,
            PGresult **result)
{
    *result = pg_run (db, statement, count, params);
    if (!*result)
        return MEMBER_ERROR;
    if (PQntuples (*result) == 1)
        return MEMBER_OK;
    PQclear (*result);
    *result = NULL;
    return MEMBER_NOT_FOUND;
}

member_rc_t
member_row (pg_t *db, const char *statement, int count, const char *const *params,
            const ProtobufCMessageDescriptor *descriptor, ProtobufCMessage **message)
{
    PGresult *result;
    member_rc_t rc = member_one (db, statement, count, params, &result);
    if (rc == MEMBER_OK) {
        *message = pg_row_message (result, 0, descriptor);
        PQclear (result);
    }
    return rc;
}

ProtobufCMessage *
member_message_new (const ProtobufCMessageDescriptor *descriptor)
{
    ProtobufCMessage *message = malloc (descriptor->sizeof_message);
    assert (message);
    descriptor->message_init (message);
    return message;
}

void
member_rows_append (ProtobufCMessage *list, const char *field, PGresult *result, int count)
{
    const ProtobufCFieldDescriptor *items =
        protobuf_c_message_descriptor_get_field_by_name (list->descriptor, field);
    assert (items && items->label == PROTOBUF_C_LABEL_REPEATED && items->descriptor);
    for (int row = 0; row < count; row++)
        pg_row_append ((void ***) ((char *) list + items->offset),
                       (size_t *) ((char *) list + items->quantifier_offset),
                       pg_row_message (result, row, items->descriptor));
}

ProtobufCMessage *
member_page (PGresult *result, int limit, const ProtobufCMessageDescriptor *list_descriptor,
             const char *field, char letter)
{
    ProtobufCMessage *page = member_message_new (list_descriptor);
    int rows = PQntuples (result);
    member_rows_append (page, field, result, rows > limit? limit: rows);
    char cursor [24] = "";
    if (rows > limit && letter)
        snprintf (cursor, sizeof cursor, "%c%llx", letter, (unsigned long long) member_seq (result, limit - 1));
    const ProtobufCFieldDescriptor *next =
        protobuf_c_message_descriptor_get_field_by_name (list_descriptor, "next_cursor");
    assert (next && next->type == PROTOBUF_C_TYPE_STRING);
    *(char **) ((char *) page + next->offset) = strdup (cursor);
    return page;
}

int64_t
member_seq (PGresult *result, int row)
{
    return strtoll (PQgetvalue (result, row, PQfnumber (result, "seq")), NULL, 10);
}

int
member_cursor_decode (const char *cursor, int64_t *after_seq)
{
    *after_seq = 0;
    if (!*cursor)
        return 0;
    if (cursor [0] != 'm' || strlen (cursor) < 2 || strlen (cursor) > 17)
        return -1;
    for (const char *c = cursor + 1; *c; c++) {
        if (!isxdigit ((unsigned char) *c))
            return -1;
        *after_seq = *after_seq * 16 + (isdigit ((unsigned char) *c)? *c - '0': (*c | 0x20) - 'a' + 10);
    }
    return *after_seq > 0? 0: -1;
}

int
member_random_hex (char secret [65])
{
    unsigned char random [32];
    if (getrandom (random, sizeof random, 0) != sizeof random)
        return -1;
    for (size_t i = 0; i < sizeof random; i++)
        snprintf (secret + 2 * i, 3, "%02x", random [i]);
    return 0;
}

int
member_uuid_new (char id [37])
{
    unsigned char random [16];
    if (getrandom (random, sizeof random, 0) != sizeof random)
        return -1;
    random [6] = (random [6] & 0x0F) | 0x40;       /* version 4 */
    random [8] = (random [8] & 0x3F) | 0x80;       /* RFC 4122 variant */
    snprintf (id, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
              random [0], random [1], random [2], random [3], random [4], random [5], random [6],
              random [7], random [8], random [9], random [10], random [11], random [12],
              random [13], random [14], random [15]);
    return 0;
}

void
member_sha256_hex (const char *text, char hex [65])
{
    unsigned char digest [EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    EVP_Digest (text, strlen (text), digest, &digest_size, EVP_sha256 (), NULL);
    for (unsigned int i = 0; i < digest_size && i < 32; i++)
        snprintf (hex + 2 * i, 3, "%02x", digest [i]);
}
