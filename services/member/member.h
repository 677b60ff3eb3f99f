/* member.h - what every module of kaiin-member shares: SQL time conversions, the outcomes of
   its reads and writes, rows into messages, ids, the "m" cursors, the request's time */
#ifndef KAIIN_MEMBER_H
#define KAIIN_MEMBER_H
#include "member.pb-c.h"
#include "pg.h"
#include "pg_row.h"
#include "svc.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A timestamp column as Unix milliseconds (0 for NULL), and a parameter of Unix milliseconds
   as a timestamp. */
#define MS(column) "coalesce ((extract (epoch from " column ") * 1000)::bigint, 0)"
#define AT(param) "to_timestamp (" param "::bigint / 1000.0)"

/* Decimal text of a number, in a caller's buffer of at least 24 bytes. */
#define NUM(buffer, value) (snprintf ((buffer), sizeof (buffer), "%lld", (long long) (value)), (buffer))

/* What a read or a write of the member service's tables came to. */
typedef enum {
    MEMBER_OK = 0,
    MEMBER_ERROR = -1,              /* database error: see pg_sqlstate / pg_lost */
    MEMBER_NOT_FOUND = 1,
    MEMBER_DUPLICATE = 2,           /* another row has this email (code, key) */
    MEMBER_STALE = 3,               /* if_version does not match */
    MEMBER_WITHDRAWN = 4,           /* already withdrawn (or erased) */
    MEMBER_NO_RANK = 5,             /* the rank is not one of member_ranks */
    MEMBER_TOO_MANY_TAGS = 6,       /* a tag change would leave a member too many tags */
    MEMBER_LAST_OWNER = 7,          /* staff: the last enabled owner cannot be demoted or disabled */
    MEMBER_BAD_ASSIGNEE = 8,        /* inquiries: the assignee is not an enabled staff account */
    MEMBER_NOT_OPEN = 9             /* inquiries: a reply asked for pending on a resolved one */
} member_rc_t;

/* The most tags a member may have. */
#define MEMBER_TAGS_MAX 100

/* The request's logical now (the envelope's, else the service clock's). */
int64_t member_now (const svc_request_t *request);

/* True when text is a UUID in its 36-character form (either letter case). */
bool member_uuid (const char *text);

/* The characters of UTF-8 text: its bytes but continuation bytes. */
size_t member_chars (const char *text);

/* True while reply is OK and id is a UUID. A malformed id fails reply with NOT_FOUND
   (not_found, a sentence of the table of messages such as "no such member"), as an unknown
   one would. */
bool member_id_ok (svc_reply_t *reply, const char *id, const char *not_found);

/* Runs a statement that answers one row: MEMBER_OK with *result (the caller PQclears it),
   MEMBER_NOT_FOUND unless it found exactly one row, or MEMBER_ERROR. */
member_rc_t member_one (pg_t *db, const char *statement, int count, const char *const *params,
                        PGresult **result);

/* Runs a statement and reads its first row into a new message of descriptor's type, by
   column name (pg_row_message), which the caller frees with protobuf_c_message_free_unpacked.
   Returns MEMBER_OK with *message set, MEMBER_NOT_FOUND unless there is exactly one row, or
   MEMBER_ERROR. */
member_rc_t member_row (pg_t *db, const char *statement, int count, const char *const *params,
                        const ProtobufCMessageDescriptor *descriptor, ProtobufCMessage **message);

/* A new message of descriptor's type with its defaults; free it with
   protobuf_c_message_free_unpacked. */
ProtobufCMessage *member_message_new (const ProtobufCMessageDescriptor *descriptor);

/* Appends the first count rows of result, each a message by pg_row_message, to the repeated
   message field named field of list (which owns them from now on). */
void member_rows_append (ProtobufCMessage *list, const char *field, PGresult *result, int count);

/* A page of a list from result, whose statement asked for limit + 1 rows (one more tells
   whether more follow): a new message of list_descriptor's type, freed with
   protobuf_c_message_free_unpacked, whose repeated message field named field holds the first
   limit rows, and whose next_cursor is letter and the last one's seq in hex when more follow
   ("" on the last page, or always when letter is 0). */
ProtobufCMessage *member_page (PGresult *result, int limit,
                               const ProtobufCMessageDescriptor *list_descriptor,
                               const char *field, char letter);

/* The column "seq" of row, the position lists page by. */
int64_t member_seq (PGresult *result, int row);

/* Reads a cursor "m<hex position>" ("" is the start: 0). Returns 0, or -1 when it is not one
   this service wrote. */
int member_cursor_decode (const char *cursor, int64_t *after_seq);

/* A secret of 256 random bits as 64 hex digits into secret (65 bytes). Returns 0, or -1 when
   the system gives no randomness. */
int member_random_hex (char secret [65]);

/* A new random UUID (version 4) in its 36-character form into id (37 bytes). Returns 0, or -1
   when the system gives no randomness. */
int member_uuid_new (char id [37]);

/* The SHA-256 of text as 64 hex digits into hex (65 bytes): how secrets are kept. */
void member_sha256_hex (const char *text, char hex [65]);

#endif
