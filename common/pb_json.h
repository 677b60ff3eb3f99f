/* pb_json.h - any protobuf message to and from the API's JSON, by its protobuf-c descriptor */
#ifndef KAIIN_PB_JSON_H
#define KAIIN_PB_JSON_H
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

/* The rules, the same for every message:
   - A field's key is its proto name, except an int64 named <x>_ms: a time, under key <x>, as
     an RFC 3339 UTC string with milliseconds ("2026-11-25T08:11:10.123Z"); 0 is null. Read
     back, any UTC offset is taken; a time must be after 1970-01-01T00:00:00Z.
   - Every field's key is always there. A field with presence (a message, a oneof member, a
     proto2 optional) that is not set is null; so is a string without presence that is "".
     proto3 "optional" needs protobuf-c >= 1.5: write a one-member oneof instead, as protoc
     encodes it (oneof _note { string note = 10; }).
   - Integers are numbers, but a uint64 or fixed64 above 2^63-1 is a decimal string (read back
     as a number or such a string); floats and doubles are numbers (null when not finite);
     bools; strings; bytes are base64 with padding (RFC 4648 section 4); a message is an
     object; repeated is an array. An enum is its value's name in lower case (NOT_FOUND is
     "not_found"), and is read only so; a number with no name (from a newer proto) is shown
     as the number.
   - null means "not set". Reading takes it for a field with presence (left unset), a repeated
     field (empty), a string ("") and a time (0, also inside an array), and refuses it for
     numbers, bools, enums and bytes, where "not set" and the default would be confused. */

#define PB_JSON_ERRORS_MAX 20
#define PB_JSON_FIELD_MAX  128
#define PB_JSON_REASON_MAX 256

/* A bad field: its path in the JSON ("items[2].quantity", "body" for the object itself) and
   why, in the gateway's words ("is not a field of this request", "must be a string"), both
   truncated to fit (on a whole UTF-8 character); a byte of the path that is not UTF-8 (a
   client's query parameter "%DE") is written %XX. */
typedef struct {
    char field [PB_JSON_FIELD_MAX];
    char reason [PB_JSON_REASON_MAX];
    const char *code;                 /* the reason's stable code (common/messages.h), or NULL */
} pb_json_error_t;

/* The errors found in one object, in the order met: the first PB_JSON_ERRORS_MAX are kept,
   and truncated says whether there were more. The caller declares it (about 8 KB, fine on a
   thread's stack); nothing to free. */
typedef struct {
    size_t count;
    bool truncated;
    bool japanese;                    /* reasons in Japanese where the table of messages has
                                         them (common/messages.h): pb_json_to_message_in's */
    pb_json_error_t list [PB_JSON_ERRORS_MAX];
} pb_json_errors_t;

/* Returns message as a JSON object, a new reference the caller decrefs. Never NULL. A string
   that is not UTF-8 becomes "". */
json_t *pb_json_from_message (const ProtobufCMessage *message);

/* Reads object (borrowed) into a new message of descriptor's type, strictly: an unknown key,
   a value of the wrong type, an integer out of its field's range, an enum name that is not
   one, a time or base64 that does not parse, a string with a NUL, two members of one oneof
   and objects nested more than 32 deep are each an error. Returns the message, which the caller frees with
   protobuf_c_message_free_unpacked (message, NULL) (it borrows nothing from object), or NULL
   when object had errors: errors (reset first) then names every bad field, up to the limit. */
ProtobufCMessage *pb_json_to_message (const ProtobufCMessageDescriptor *descriptor,
                                      json_t *object, pb_json_errors_t *errors);

/* As pb_json_to_message, the reasons in Japanese when japanese and the table of messages
   (common/messages.h) has them. */
ProtobufCMessage *pb_json_to_message_in (const ProtobufCMessageDescriptor *descriptor,
                                         json_t *object, pb_json_errors_t *errors, bool japanese);

/* Adds an error to errors (or marks them truncated when full). */
void pb_json_error (pb_json_errors_t *errors, const char *field, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Adds error (a reason already written, with its code) to errors under field. */
void pb_json_error_copy (pb_json_errors_t *errors, const char *field, const pb_json_error_t *error);

/* As pb_json_error for a sentence of the table held in a variable: its words in errors'
   language, its code. */
void pb_json_error_say (pb_json_errors_t *errors, const char *field, const char *english);

/* The JSON key of field into key (PB_JSON_FIELD_MAX bytes): its name, or <x> for an int64
   <x>_ms. Returns key. */
const char *pb_json_key (const ProtobufCFieldDescriptor *field, char *key);

/* Whether field is a time: an int64 named <x>_ms, read and written as RFC 3339 text. */
bool pb_json_is_time (const ProtobufCFieldDescriptor *field);

/* The field of descriptor whose JSON key is key, or NULL. */
const ProtobufCFieldDescriptor *pb_json_field (const ProtobufCMessageDescriptor *descriptor,
                                               const char *key);

/* Returns errors as the problem body's list, [{"field": ..., "reason": ...}, ...]: a new
   reference the caller decrefs. */
json_t *pb_json_errors_json (const pb_json_errors_t *errors);

#endif
