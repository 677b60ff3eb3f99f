/* pb_json.c - any protobuf message to and from the API's JSON, by its protobuf-c descriptor */
#include "pb_json.h"
#include "messages.h"
#include "clock.h"
#include "utf8.h"
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEPTH_MAX 32                /* objects inside objects that reading follows */

/* --- fields: what the rules in pb_json.h say of each ---------------------------------------- */

/* An int64 named <x>_ms: a time, under key <x>. */
bool
pb_json_is_time (const ProtobufCFieldDescriptor *field)
{
    size_t length = strlen (field->name);
    return field->type == PROTOBUF_C_TYPE_INT64 && length > 3
        && strcmp (field->name + length - 3, "_ms") == 0;
}

/* Writes field's JSON key into key (PB_JSON_FIELD_MAX bytes). Returns key. */
const char *
pb_json_key (const ProtobufCFieldDescriptor *field, char *key)
{
    int length = (int) strlen (field->name) - (pb_json_is_time (field)? 3: 0);
    snprintf (key, PB_JSON_FIELD_MAX, "%.*s", length, field->name);
    return key;
}

/* A singular field that tells "not set" apart from its default value. */
static bool
s_has_presence (const ProtobufCFieldDescriptor *field)
{
    return field->type == PROTOBUF_C_TYPE_MESSAGE || field->label == PROTOBUF_C_LABEL_OPTIONAL
        || (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
}

/* Whether null is taken for field, or for one of its array's elements when element. */
static bool
s_nullable (const ProtobufCFieldDescriptor *field, bool element)
{
    if (pb_json_is_time (field))
        return true;
    return !element && (field->label == PROTOBUF_C_LABEL_REPEATED || s_has_presence (field)
                        || field->type == PROTOBUF_C_TYPE_STRING);
}

/* Whether a singular field is set: always, for one without presence. */
static bool
s_present (const ProtobufCMessage *message, const ProtobufCFieldDescriptor *field)
{
    const char *base = (const char *) message;
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *) (base + field->quantifier_offset) == field->id;
    if (field->type == PROTOBUF_C_TYPE_MESSAGE
    ||  (field->type == PROTOBUF_C_TYPE_STRING && field->label == PROTOBUF_C_LABEL_OPTIONAL)) {
        const void *pointer = *(const void *const *) (base + field->offset);
        return pointer && pointer != field->default_value;
    }
    if (field->label == PROTOBUF_C_LABEL_OPTIONAL)
        return *(const protobuf_c_boolean *) (base + field->quantifier_offset);
    return true;
}

/* The size of one value of type, as repeated fields keep them. */
static size_t
s_size (ProtobufCType type)
{
    switch (type) {
        case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
            return sizeof (int64_t);
        case PROTOBUF_C_TYPE_DOUBLE:  return sizeof (double);
        case PROTOBUF_C_TYPE_BOOL:    return sizeof (protobuf_c_boolean);
        case PROTOBUF_C_TYPE_STRING:  return sizeof (char *);
        case PROTOBUF_C_TYPE_BYTES:   return sizeof (ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_MESSAGE: return sizeof (ProtobufCMessage *);
        default:                      return sizeof (int32_t);     /* 32 bits, float, enum */
    }
}

/* Writes value's name in lower case into name (PB_JSON_FIELD_MAX bytes). Returns name. */
static const char *
s_enum_name (const ProtobufCEnumValue *value, char *name)
{
    size_t i = 0;
    for (; value->name [i] && i < PB_JSON_FIELD_MAX - 1; i++)
        name [i] = (char) tolower ((unsigned char) value->name [i]);
    name [i] = 0;
    return name;
}

/* --- writing ------------------------------------------------------------------------------- */

static json_t *
s_base64 (const ProtobufCBinaryData *data)
{
    char *text = malloc (4 * ((data->len + 2) / 3) + 1);
    assert (text);
    EVP_EncodeBlock ((unsigned char *) text, data->data, (int) data->len);
    json_t *string = json_string (text);
    free (text);
    return string;
}

/* One value of field, kept at slot, as JSON. */
static json_t *
s_value_to_json (const ProtobufCFieldDescriptor *field, const void *slot)
{
    char text [PB_JSON_FIELD_MAX];
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
            return json_integer (*(const int32_t *) slot);
        case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
            return json_integer (*(const uint32_t *) slot);
        case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64: {
            int64_t number = *(const int64_t *) slot;
            if (!pb_json_is_time (field))
                return json_integer (number);
            return number? json_string (clock_format_ms (number, text, sizeof text)): json_null ();
        }
        case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: {
            uint64_t number = *(const uint64_t *) slot;
            if (number <= INT64_MAX)
                return json_integer ((json_int_t) number);
            snprintf (text, sizeof text, "%" PRIu64, number);
            return json_string (text);
        }
        case PROTOBUF_C_TYPE_BOOL:
            return json_boolean (*(const protobuf_c_boolean *) slot);
        case PROTOBUF_C_TYPE_FLOAT: case PROTOBUF_C_TYPE_DOUBLE: {
            json_t *real = json_real (field->type == PROTOBUF_C_TYPE_FLOAT
                                      ? *(const float *) slot: *(const double *) slot);
            return real? real: json_null ();            /* NaN and infinities */
        }
        case PROTOBUF_C_TYPE_ENUM: {
            int number = *(const int *) slot;
            const ProtobufCEnumValue *value =
                protobuf_c_enum_descriptor_get_value (field->descriptor, number);
            return value? json_string (s_enum_name (value, text)): json_integer (number);
        }
        case PROTOBUF_C_TYPE_STRING: {
            const char *string = *(char *const *) slot;
            json_t *json = json_string (string? string: "");
            return json? json: json_string ("");
        }
        case PROTOBUF_C_TYPE_BYTES:
            return s_base64 ((const ProtobufCBinaryData *) slot);
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *inner = *(const ProtobufCMessage *const *) slot;
            return inner? pb_json_from_message (inner): json_null ();
        }
    }
    assert (!"a protobuf-c type that pb_json does not know");
    return json_null ();
}

static json_t *
s_field_to_json (const ProtobufCMessage *message, const ProtobufCFieldDescriptor *field)
{
    const char *slot = (const char *) message + field->offset;
    if (field->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t count = *(const size_t *) ((const char *) message + field->quantifier_offset);
        const char *values = *(const char *const *) slot;
        json_t *array = json_array ();
        for (size_t i = 0; i < count; i++)
            json_array_append_new (array, s_value_to_json (field, values + i * s_size (field->type)));
        return array;
    }
    if (!s_present (message, field))
        return json_null ();
    if (field->type == PROTOBUF_C_TYPE_STRING && !s_has_presence (field)) {
        const char *string = *(char *const *) slot;
        if (!string || !*string)
            return json_null ();
    }
    return s_value_to_json (field, slot);
}

json_t *
pb_json_from_message (const ProtobufCMessage *message)
{
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    json_t *object = json_object ();
    char key [PB_JSON_FIELD_MAX];
    for (unsigned i = 0; i < descriptor->n_fields; i++)
        json_object_set_new (object, pb_json_key (&descriptor->fields [i], key),
                             s_field_to_json (message, &descriptor->fields [i]));
    return object;
}

/* --- reading ------------------------------------------------------------------------------- */

void
pb_json_error (pb_json_errors_t *errors, const char *field, const char *format, ...)
{
    if (errors->count == PB_JSON_ERRORS_MAX) {
        errors->truncated = true;
        return;
    }
    pb_json_error_t *error = &errors->list [errors->count++];
    utf8_escape (field, error->field, sizeof error->field);
    error->code = messages_code (format);
    va_list args;
    va_start (args, format);
    vsnprintf (error->reason, sizeof error->reason, messages_say (errors->japanese, format), args);
    va_end (args);
}

void
pb_json_error_copy (pb_json_errors_t *errors, const char *field, const pb_json_error_t *error)
{
    size_t count = errors->count;
    pb_json_error (errors, field, "%s", error->reason);
    if (errors->count > count)
        errors->list [count].code = error->code;
}

void
pb_json_error_say (pb_json_errors_t *errors, const char *field, const char *english)
{
    pb_json_error_t said = { .code = messages_code (english) };
    snprintf (said.reason, sizeof said.reason, "%s", messages_say (errors->japanese, english));
    pb_json_error_copy (errors, field, &said);
}

/* Value's text, or NULL when it is not a string or holds a NUL. */
static const char *
s_string_of (json_t *value)
{
    const char *text = json_string_value (value);
    return text && strlen (text) == json_string_length (value)? text: NULL;
}

/* Decodes base64 text (RFC 4648 section 4, padded) into *data. 0 or -1. */
static int
s_unbase64 (const char *text, ProtobufCBinaryData *data)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t length = strlen (text), valid = strspn (text, alphabet), padding = length - valid;
    if (length % 4 || padding > 2 || strspn (text + valid, "=") != padding)
        return -1;
    if (length == 0)
        return 0;
    data->data = malloc (length / 4 * 3);
    assert (data->data);
    int decoded = EVP_DecodeBlock (data->data, (const unsigned char *) text, (int) length);
    data->len = decoded < 0? 0: (size_t) decoded - padding;
    return decoded < 0? -1: 0;
}

/* Reads value as an integer from min to max into *number, else names path in errors. */
static int
s_integer (json_t *value, int64_t min, int64_t max, int64_t *number, const char *path,
           pb_json_errors_t *errors)
{
    if (json_is_integer (value) && json_integer_value (value) >= min
    &&  json_integer_value (value) <= max) {
        *number = json_integer_value (value);
        return 0;
    }
    pb_json_error (errors, path, "must be an integer from %" PRId64 " to %" PRId64, min, max);
    return -1;
}

static void
s_enum_from_json (const ProtobufCFieldDescriptor *field, const char *text, int *slot,
                  const char *path, pb_json_errors_t *errors)
{
    const ProtobufCEnumDescriptor *type = field->descriptor;
    char name [PB_JSON_FIELD_MAX], names [PB_JSON_REASON_MAX] = "";
    for (unsigned i = 0; i < type->n_values; i++) {
        s_enum_name (&type->values [i], name);
        if (text && strcmp (text, name) == 0) {
            *slot = type->values [i].value;
            return;
        }
        size_t used = strlen (names);
        snprintf (names + used, sizeof names - used, "%s%s", i? ", ": "", name);
    }
    pb_json_error (errors, path, "must be one of %s", names);
}

static ProtobufCMessage *s_message_from_json (const ProtobufCMessageDescriptor *descriptor,
                                              json_t *object, const char *path, int depth,
                                              pb_json_errors_t *errors);

/* Reads value, one value of field (an element of its array when element), into slot. */
static void
s_value_from_json (const ProtobufCFieldDescriptor *field, json_t *value, void *slot, bool element,
                   const char *path, int depth, pb_json_errors_t *errors)
{
    if (json_is_null (value)) {
        if (!s_nullable (field, element))
            pb_json_error (errors, path, "must not be null");
        return;                                 /* the slot keeps its default */
    }
    const char *text = s_string_of (value);
    int64_t number;
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
            if (s_integer (value, INT32_MIN, INT32_MAX, &number, path, errors) == 0)
                *(int32_t *) slot = (int32_t) number;
            return;
        case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
            if (s_integer (value, 0, UINT32_MAX, &number, path, errors) == 0)
                *(uint32_t *) slot = (uint32_t) number;
            return;
        case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
            if (!pb_json_is_time (field)) {
                if (s_integer (value, INT64_MIN, INT64_MAX, &number, path, errors) == 0)
                    *(int64_t *) slot = number;
            }
            else
            if (!text || clock_parse_ms (text, &number) == -1 || number <= 0)
                pb_json_error (errors, path, "must be an RFC 3339 date-time, e.g. 2027-03-31T23:59:59+09:00");
            else
                *(int64_t *) slot = number;
            return;
        case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: {
            bool decimal = text && *text && strspn (text, "0123456789") == strlen (text);
            errno = 0;
            uint64_t large = decimal? strtoull (text, NULL, 10): 0;     /* above 2^63-1 */
            if (json_is_integer (value) && json_integer_value (value) >= 0)
                *(uint64_t *) slot = (uint64_t) json_integer_value (value);
            else
            if (decimal && errno == 0)
                *(uint64_t *) slot = large;
            else
                pb_json_error (errors, path, "must be an integer from 0 to %" PRIu64, UINT64_MAX);
            return;
        }
        case PROTOBUF_C_TYPE_BOOL:
            if (json_is_boolean (value))
                *(protobuf_c_boolean *) slot = json_is_true (value);
            else
                pb_json_error (errors, path, "must be true or false");
            return;
        case PROTOBUF_C_TYPE_FLOAT: case PROTOBUF_C_TYPE_DOUBLE: {
            double real = json_number_value (value);
            bool is_float = field->type == PROTOBUF_C_TYPE_FLOAT;
            if (!json_is_number (value) || (is_float && (real > FLT_MAX || real < -FLT_MAX)))
                pb_json_error (errors, path, "must be a number%s", is_float? " from -3.4e38 to 3.4e38": "");
            else
            if (is_float)
                *(float *) slot = (float) real;
            else
                *(double *) slot = real;
            return;
        }
        case PROTOBUF_C_TYPE_ENUM:
            s_enum_from_json (field, text, (int *) slot, path, errors);
            return;
        case PROTOBUF_C_TYPE_STRING:
            if (text) {
                *(char **) slot = strdup (text);
                assert (*(char **) slot);
            }
            else
                pb_json_error (errors, path, json_is_string (value)? "must not contain NUL characters"
                                                              : "must be a string");
            return;
        case PROTOBUF_C_TYPE_BYTES:
            if (!text || s_unbase64 (text, (ProtobufCBinaryData *) slot) == -1)
                pb_json_error (errors, path, "must be base64 (RFC 4648, padded)");
            return;
        case PROTOBUF_C_TYPE_MESSAGE:
            *(ProtobufCMessage **) slot = s_message_from_json (field->descriptor, value, path,
                                                               depth + 1, errors);
            return;
    }
    assert (!"a protobuf-c type that pb_json does not know");
}

/* Reads value into message's field: what is stored stays consistent for
   protobuf_c_message_free_unpacked whatever goes wrong. */
static void
s_field_from_json (ProtobufCMessage *message, const ProtobufCFieldDescriptor *field,
                   json_t *value, const char *path, int depth, pb_json_errors_t *errors)
{
    char *base = (char *) message;
    if (field->label == PROTOBUF_C_LABEL_REPEATED && !json_is_null (value)) {
        if (!json_is_array (value)) {
            pb_json_error (errors, path, "must be an array");
            return;
        }
        size_t count = json_array_size (value), size = s_size (field->type);
        if (count == 0)
            return;
        char *values = calloc (count, size);
        assert (values);
        *(char **) (base + field->offset) = values;
        *(size_t *) (base + field->quantifier_offset) = count;
        for (size_t i = 0; i < count; i++) {
            char item [PB_JSON_FIELD_MAX];
            snprintf (item, sizeof item, "%.100s[%zu]", path, i);      /* known fields: ASCII */
            s_value_from_json (field, json_array_get (value, i), values + i * size, true, item,
                               depth, errors);
        }
        return;
    }
    void *quantifier = base + field->quantifier_offset;     /* a oneof's case, a has_ flag */
    if (json_is_null (value))
        ;                                       /* nothing to mark present */
    else
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *which = quantifier;
        char other [PB_JSON_FIELD_MAX];
        if (*which) {
            pb_json_error (errors, path, "cannot be given with %s", pb_json_key (
                     protobuf_c_message_descriptor_get_field (message->descriptor, *which), other));
            return;
        }
        *which = field->id;
    }
    else
    if (field->label == PROTOBUF_C_LABEL_OPTIONAL && field->type != PROTOBUF_C_TYPE_STRING
    &&  field->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *) quantifier = 1;
    s_value_from_json (field, value, base + field->offset, false, path, depth, errors);
}

const ProtobufCFieldDescriptor *
pb_json_field (const ProtobufCMessageDescriptor *descriptor, const char *key)
{
    char name [PB_JSON_FIELD_MAX];
    for (unsigned i = 0; i < descriptor->n_fields; i++)
        if (strcmp (pb_json_key (&descriptor->fields [i], name), key) == 0)
            return &descriptor->fields [i];
    return NULL;
}

/* Reads object into a new message (NULL when it is not an object). */
static ProtobufCMessage *
s_message_from_json (const ProtobufCMessageDescriptor *descriptor, json_t *object,
                     const char *path, int depth, pb_json_errors_t *errors)
{
    if (!json_is_object (object)) {
        pb_json_error (errors, *path? path: "body", "must be a JSON object");
        return NULL;
    }
    if (depth > DEPTH_MAX) {
        pb_json_error (errors, path, "must not nest objects more than %d deep", DEPTH_MAX);
        return NULL;
    }
    ProtobufCMessage *message = malloc (descriptor->sizeof_message);
    assert (message);
    descriptor->message_init (message);
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value) {
        char inner [PB_JSON_FIELD_MAX];
        snprintf (inner, sizeof inner, "%s%s%s", path, *path? ".": "", key);
        const ProtobufCFieldDescriptor *field = pb_json_field (descriptor, key);
        if (field)
            s_field_from_json (message, field, value, inner, depth, errors);
        else
            pb_json_error (errors, inner, "is not a field of this request");
    }
    return message;
}

ProtobufCMessage *
pb_json_to_message (const ProtobufCMessageDescriptor *descriptor, json_t *object,
                    pb_json_errors_t *errors)
{
    return pb_json_to_message_in (descriptor, object, errors, false);
}

ProtobufCMessage *
pb_json_to_message_in (const ProtobufCMessageDescriptor *descriptor, json_t *object,
                       pb_json_errors_t *errors, bool japanese)
{
    errors->count = 0;
    errors->truncated = false;
    errors->japanese = japanese;
    ProtobufCMessage *message = s_message_from_json (descriptor, object, "", 0, errors);
    if (errors->count == 0)
        return message;
    if (message)
        protobuf_c_message_free_unpacked (message, NULL);
    return NULL;
}

json_t *
pb_json_errors_json (const pb_json_errors_t *errors)
{
    json_t *list = json_array ();
    for (size_t i = 0; i < errors->count; i++)
        json_array_append_new (list, json_pack ("{s:s, s:s}", "field", errors->list [i].field,
                                                "reason", errors->list [i].reason));
    return list;
}
