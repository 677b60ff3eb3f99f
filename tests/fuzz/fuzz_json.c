/* fuzz_json.c - the JSON codec (common/pb_json.c) on any JSON text: what it accepts it writes
   back, and what it writes it reads again into the very same message (the packed bytes
   compared). Every kind of field is met through the test-only messages of test_codec.proto. */
#include "pb_json.h"
#include "test_codec.pb-c.h"
#include "test_codec_proto2.pb-c.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *
s_pack (const ProtobufCMessage *message, size_t *size)
{
    *size = protobuf_c_message_get_packed_size (message);
    uint8_t *bytes = malloc (*size + 1);
    protobuf_c_message_pack (message, bytes);
    return bytes;
}

/* Reads object as descriptor's message; when it is taken, writes it out and reads that back. */
static void
s_round_trip (const ProtobufCMessageDescriptor *descriptor, json_t *object, bool japanese)
{
    pb_json_errors_t errors;
    ProtobufCMessage *message = pb_json_to_message_in (descriptor, object, &errors, japanese);
    if (!message) {
        if (errors.count == 0)
            abort ();                       /* refused without saying why */
        return;
    }
    json_t *written = pb_json_from_message (message);
    ProtobufCMessage *again = pb_json_to_message (descriptor, written, &errors);
    if (!again)
        abort ();                           /* it cannot read what it wrote */
    size_t size, again_size;
    uint8_t *bytes = s_pack (message, &size);
    uint8_t *again_bytes = s_pack (again, &again_size);
    if (size != again_size || memcmp (bytes, again_bytes, size) != 0)
        abort ();                           /* read back, it is not the same message */
    free (bytes);
    free (again_bytes);
    protobuf_c_message_free_unpacked (again, NULL);
    protobuf_c_message_free_unpacked (message, NULL);
    json_decref (written);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_t *object = json_loadb ((const char *) data, size, JSON_DECODE_ANY, NULL);
    if (!object)
        return 0;
    bool japanese = size && data [size - 1] == '\n';
    s_round_trip (&kaiin__test_codec__order__descriptor, object, japanese);
    s_round_trip (&kaiin__test_codec__scalars__descriptor, object, japanese);
    s_round_trip (&kaiin__test_codec__node__descriptor, object, japanese);
    s_round_trip (&kaiin__test_codec__legacy__descriptor, object, japanese);
    json_decref (object);
    return 0;
}
