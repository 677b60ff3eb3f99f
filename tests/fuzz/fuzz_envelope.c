/* fuzz_envelope.c - the envelope every service unpacks from the broker (proto/envelope.proto),
   and the reply, from any bytes: what unpacks is shown as JSON as the services' replies are
   (common/pb_json.c, unknown enum numbers and non-UTF-8 strings included) and packs to the
   size it says. (That it unpacks again is not asked: protobuf-c keeps an unknown field as it
   came, even one numbered 0, which it then refuses to read.) */
#include "envelope.pb-c.h"
#include "pb_json.h"
#include <stdint.h>
#include <stdlib.h>

static void
s_round_trip (const ProtobufCMessageDescriptor *descriptor, const uint8_t *data, size_t size)
{
    ProtobufCMessage *message = protobuf_c_message_unpack (descriptor, NULL, size, data);
    if (!message)
        return;
    json_decref (pb_json_from_message (message));
    size_t packed_size = protobuf_c_message_get_packed_size (message);
    uint8_t *packed = malloc (packed_size + 1);
    if (protobuf_c_message_pack (message, packed) != packed_size)
        abort ();                           /* packed, it is not the size it said */
    free (packed);
    protobuf_c_message_free_unpacked (message, NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_round_trip (&kaiin__request__descriptor, data, size);
    s_round_trip (&kaiin__reply__descriptor, data, size);
    return 0;
}
