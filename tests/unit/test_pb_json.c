/* test_pb_json.c - the JSON codec: each kind of field both ways, nulls, times, errors */
#include "check.h"
#include "pb_json.h"
#include "test_codec.pb-c.h"
#include "test_codec_proto2.pb-c.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T_2026 1795594270123LL          /* 2026-11-25T08:11:10.123Z */

/* Whether message renders as the JSON text expected (printed when it does not). */
static bool
s_renders (const void *message, const char *expected)
{
    json_t *actual = pb_json_from_message (message);
    json_t *wanted = json_loads (expected, 0, NULL);
    bool same = wanted && json_equal (actual, wanted);
    if (!same) {
        char *text = json_dumps (actual, JSON_SORT_KEYS);
        fprintf (stderr, "rendered: %s\n", text);
        free (text);
    }
    json_decref (actual);
    json_decref (wanted);
    return same;
}

/* Reads JSON text as a message of descriptor's type. */
static void *
s_read (const ProtobufCMessageDescriptor *descriptor, const char *text, pb_json_errors_t *errors)
{
    json_t *object = json_loads (text, 0, NULL);
    if (!object)
        fprintf (stderr, "bad JSON in a test: %s\n", text);
    void *message = pb_json_to_message (descriptor, object, errors);
    json_decref (object);
    return message;
}

/* Whether errors are exactly the JSON list expected (printed when they are not). */
static bool
s_errors_are (const pb_json_errors_t *errors, const char *expected)
{
    json_t *actual = pb_json_errors_json (errors);
    json_t *wanted = json_loads (expected, 0, NULL);
    bool same = wanted && json_equal (actual, wanted);
    if (!same) {
        char *text = json_dumps (actual, 0);
        fprintf (stderr, "errors: %s\n", text);
        free (text);
    }
    json_decref (actual);
    json_decref (wanted);
    return same;
}

/* Whether a and b pack to the same bytes. */
static bool
s_same (const void *a, const void *b)
{
    if (!a || !b)
        return false;
    size_t size = protobuf_c_message_get_packed_size (a);
    if (size != protobuf_c_message_get_packed_size (b))
        return false;
    uint8_t *x = malloc (size + 1), *y = malloc (size + 1);
    protobuf_c_message_pack (a, x);
    protobuf_c_message_pack (b, y);
    bool same = memcmp (x, y, size) == 0;
    free (x);
    free (y);
    return same;
}

/* Whether message comes back the same from its JSON. */
static bool
s_round_trip (const ProtobufCMessage *message)
{
    pb_json_errors_t errors;
    json_t *json = pb_json_from_message (message);
    ProtobufCMessage *back = pb_json_to_message (message->descriptor, json, &errors);
    bool same = errors.count == 0 && s_same (message, back);
    json_decref (json);
    if (back)
        protobuf_c_message_free_unpacked (back, NULL);
    return same;
}

static void
s_test_scalars (void)
{
    Kaiin__TestCodec__Scalars scalars = KAIIN__TEST_CODEC__SCALARS__INIT;
    CHECK (s_renders (&scalars,
        "{\"i32\": 0, \"i64\": 0, \"u32\": 0, \"u64\": 0, \"s32\": 0, \"s64\": 0, \"f32\": 0,"
        " \"f64\": 0, \"sf32\": 0, \"sf64\": 0, \"flag\": false, \"ratio\": 0.0, \"weight\": 0.0,"
        " \"text\": null, \"blob\": \"\", \"color\": \"color_unspecified\", \"created_at\": null}"));
    CHECK (s_round_trip (&scalars.base));

    scalars.i32 = INT32_MIN;
    scalars.i64 = -9007199254740993LL;          /* beyond a double's integers */
    scalars.u32 = UINT32_MAX;
    scalars.u64 = UINT64_MAX;
    scalars.s32 = -7;
    scalars.s64 = -8;
    scalars.f32 = 9;
    scalars.f64 = 10;
    scalars.sf32 = -11;
    scalars.sf64 = INT64_MAX;
    scalars.flag = 1;
    scalars.ratio = 0.5f;
    scalars.weight = -2.25;
    scalars.text = "日本語 \"quoted\"";
    scalars.blob.data = (uint8_t *) "\x00\x01\xfe";
    scalars.blob.len = 3;
    scalars.color = KAIIN__TEST_CODEC__COLOR__DARK_BLUE;
    scalars.created_at_ms = T_2026;
    CHECK (s_renders (&scalars,
        "{\"i32\": -2147483648, \"i64\": -9007199254740993, \"u32\": 4294967295,"
        " \"u64\": \"18446744073709551615\", \"s32\": -7, \"s64\": -8, \"f32\": 9, \"f64\": 10,"
        " \"sf32\": -11, \"sf64\": 9223372036854775807, \"flag\": true, \"ratio\": 0.5,"
        " \"weight\": -2.25, \"text\": \"日本語 \\\"quoted\\\"\", \"blob\": \"AAH+\","
        " \"color\": \"dark_blue\", \"created_at\": \"2026-11-25T08:11:10.123Z\"}"));
    CHECK (s_round_trip (&scalars.base));

    /* Read back from text written by hand, the packed bytes are the same. */
    pb_json_errors_t errors;
    Kaiin__TestCodec__Scalars *read = s_read (&kaiin__test_codec__scalars__descriptor,
        "{\"i32\": -2147483648, \"i64\": -9007199254740993, \"u32\": 4294967295,"
        " \"u64\": \"18446744073709551615\", \"s32\": -7, \"s64\": -8, \"f32\": 9, \"f64\": 10,"
        " \"sf32\": -11, \"sf64\": 9223372036854775807, \"flag\": true, \"ratio\": 0.5,"
        " \"weight\": -2.25, \"text\": \"日本語 \\\"quoted\\\"\", \"blob\": \"AAH+\","
        " \"color\": \"dark_blue\", \"created_at\": \"2026-11-25T17:11:10.123+09:00\"}", &errors);
    CHECK (errors.count == 0 && s_same (read, &scalars));
    kaiin__test_codec__scalars__free_unpacked (read, NULL);

    /* A uint64 as a number or as a decimal string; one past the top is refused. */
    read = s_read (&kaiin__test_codec__scalars__descriptor, "{\"u64\": 5, \"f64\": \"7\"}", &errors);
    CHECK (read && read->u64 == 5 && read->f64 == 7);
    kaiin__test_codec__scalars__free_unpacked (read, NULL);
    CHECK (!s_read (&kaiin__test_codec__scalars__descriptor,
                    "{\"u64\": \"18446744073709551616\", \"f64\": \"-1\"}", &errors));
    CHECK (s_errors_are (&errors,
        "[{\"field\": \"u64\", \"reason\": \"must be an integer from 0 to 18446744073709551615\"},"
        " {\"field\": \"f64\", \"reason\": \"must be an integer from 0 to 18446744073709551615\"}]"));

    /* Edges of base64, and a float that is not a number. */
    read = s_read (&kaiin__test_codec__scalars__descriptor, "{\"blob\": \"QQ==\"}", &errors);
    CHECK (read && read->blob.len == 1 && read->blob.data [0] == 'A');
    kaiin__test_codec__scalars__free_unpacked (read, NULL);
    CHECK (!s_read (&kaiin__test_codec__scalars__descriptor, "{\"blob\": \"QQ=A\"}", &errors));
    CHECK (!s_read (&kaiin__test_codec__scalars__descriptor, "{\"blob\": \"Q Q=\"}", &errors));
    CHECK (!s_read (&kaiin__test_codec__scalars__descriptor, "{\"blob\": \"QQ\"}", &errors));
    CHECK (!s_read (&kaiin__test_codec__scalars__descriptor, "{\"blob\": \"Q===\"}", &errors));
    Kaiin__TestCodec__Scalars odd = KAIIN__TEST_CODEC__SCALARS__INIT;
    odd.weight = NAN;
    odd.ratio = -INFINITY;
    json_t *json = pb_json_from_message (&odd.base);
    CHECK (json_is_null (json_object_get (json, "weight")) && json_is_null (json_object_get (json, "ratio")));
    json_decref (json);
}

static void
s_test_order (void)
{
    Kaiin__TestCodec__Order order = KAIIN__TEST_CODEC__ORDER__INIT;
    CHECK (s_renders (&order,
        "{\"id\": null, \"lines\": [], \"tags\": [], \"counts\": [], \"colors\": [],"
        " \"reminded_at\": [], \"first\": null, \"card\": null, \"voucher\": null, \"note\": null,"
        " \"discount\": null, \"scalars\": null, \"paid_at\": null}"));
    CHECK (s_round_trip (&order.base));

    Kaiin__TestCodec__Line line_a = KAIIN__TEST_CODEC__LINE__INIT, line_b = KAIIN__TEST_CODEC__LINE__INIT;
    line_a.sku = "A-1";
    line_a.quantity = 2;
    line_a.shipped_at_ms = T_2026;
    line_b.quantity = -1;
    Kaiin__TestCodec__Line *lines [] = { &line_a, &line_b };
    char *tags [] = { "x", "" };
    int32_t counts [] = { 1, -2 };
    Kaiin__TestCodec__Color colors [] = { KAIIN__TEST_CODEC__COLOR__RED, KAIIN__TEST_CODEC__COLOR__COLOR_UNSPECIFIED };
    int64_t reminded [] = { T_2026, 0 };
    Kaiin__TestCodec__Scalars scalars = KAIIN__TEST_CODEC__SCALARS__INIT;
    order.id = "ord-1";
    order.n_lines = 2;
    order.lines = lines;
    order.n_tags = 2;
    order.tags = tags;
    order.n_counts = 2;
    order.counts = counts;
    order.n_colors = 2;
    order.colors = colors;
    order.n_reminded_at_ms = 2;
    order.reminded_at_ms = reminded;
    order.first = &line_b;
    order.payment_case = KAIIN__TEST_CODEC__ORDER__PAYMENT_VOUCHER;
    order.voucher = &line_a;
    order._note_case = KAIIN__TEST_CODEC__ORDER___NOTE_NOTE;
    order.note = "";                    /* set: "" stays "", unlike id */
    order._discount_case = KAIIN__TEST_CODEC__ORDER___DISCOUNT_DISCOUNT;
    order.discount = 0;
    order.scalars = &scalars;
    order.paid_at_ms = 1;
    const char *expected =
        "{\"id\": \"ord-1\","
        " \"lines\": [{\"sku\": \"A-1\", \"quantity\": 2, \"shipped_at\": \"2026-11-25T08:11:10.123Z\"},"
        "            {\"sku\": null, \"quantity\": -1, \"shipped_at\": null}],"
        " \"tags\": [\"x\", \"\"], \"counts\": [1, -2], \"colors\": [\"red\", \"color_unspecified\"],"
        " \"reminded_at\": [\"2026-11-25T08:11:10.123Z\", null],"
        " \"first\": {\"sku\": null, \"quantity\": -1, \"shipped_at\": null},"
        " \"card\": null,"
        " \"voucher\": {\"sku\": \"A-1\", \"quantity\": 2, \"shipped_at\": \"2026-11-25T08:11:10.123Z\"},"
        " \"note\": \"\", \"discount\": 0,"
        " \"scalars\": {\"i32\": 0, \"i64\": 0, \"u32\": 0, \"u64\": 0, \"s32\": 0, \"s64\": 0,"
        "   \"f32\": 0, \"f64\": 0, \"sf32\": 0, \"sf64\": 0, \"flag\": false, \"ratio\": 0.0,"
        "   \"weight\": 0.0, \"text\": null, \"blob\": \"\", \"color\": \"color_unspecified\","
        "   \"created_at\": null},"
        " \"paid_at\": \"1970-01-01T00:00:00.001Z\"}";
    CHECK (s_renders (&order, expected));
    CHECK (s_round_trip (&order.base));
    pb_json_errors_t errors;
    Kaiin__TestCodec__Order *read = s_read (&kaiin__test_codec__order__descriptor, expected, &errors);
    CHECK (errors.count == 0 && s_same (read, &order));
    CHECK (read && read->payment_case == KAIIN__TEST_CODEC__ORDER__PAYMENT_VOUCHER
           && read->_note_case == KAIIN__TEST_CODEC__ORDER___NOTE_NOTE
           && read->_discount_case == KAIIN__TEST_CODEC__ORDER___DISCOUNT_DISCOUNT);
    kaiin__test_codec__order__free_unpacked (read, NULL);

    /* An enum number with no name (a newer proto's value) is shown as the number. */
    colors [1] = 7;
    json_t *json = pb_json_from_message (&order.base);
    CHECK (json_integer_value (json_array_get (json_object_get (json, "colors"), 1)) == 7);
    json_decref (json);

    /* A oneof takes one member; null leaves it unset. */
    read = s_read (&kaiin__test_codec__order__descriptor,
                   "{\"card\": \"4242\", \"voucher\": {\"sku\": \"v\"}}", &errors);
    CHECK (!read && s_errors_are (&errors,
        "[{\"field\": \"voucher\", \"reason\": \"cannot be given with card\"}]"));
    read = s_read (&kaiin__test_codec__order__descriptor,
                   "{\"card\": null, \"voucher\": {\"sku\": \"v\"}}", &errors);
    CHECK (read && read->payment_case == KAIIN__TEST_CODEC__ORDER__PAYMENT_VOUCHER
           && strcmp (read->voucher->sku, "v") == 0);
    kaiin__test_codec__order__free_unpacked (read, NULL);
}

static void
s_test_times (void)
{
    static const struct { const char *text; int64_t unix_ms; } good [] = {
        { "2026-11-25T08:11:10.123Z", T_2026 },
        { "2026-11-25T17:11:10.123+09:00", T_2026 },
        { "2026-11-25t08:11:10.1239999z", T_2026 },            /* past ms: dropped */
        { "2026-11-25T06:41:10.1-01:30", T_2026 - 23 },
        { "2024-02-29T00:00:00Z", 1709164800000LL },
        { "1970-01-01T00:00:00.001Z", 1 },
    };
    static const char *const bad [] = {
        "2026-02-29T00:00:00Z", "2026-11-25 08:11:10Z", "2026-11-25T08:11:10", "2026-11-25T08:11:10.Z",
        "2026-11-25T08:11:10.1234567890Z", "2026-13-01T00:00:00Z", "2026-11-31T00:00:00Z",
        "2026-11-25T24:00:00Z", "2026-11-25T08:11:10+09:60", "2026-11-25T08:11:10+0900",
        "2026-11-25T08:11:10Zjunk", "1970-01-01T00:00:00Z", "26-11-25T08:11:10Z", "",
    };
    pb_json_errors_t errors;
    char text [128];
    for (size_t i = 0; i < sizeof good / sizeof good [0]; i++) {
        snprintf (text, sizeof text, "{\"paid_at\": \"%s\"}", good [i].text);
        Kaiin__TestCodec__Order *read = s_read (&kaiin__test_codec__order__descriptor, text, &errors);
        CHECK (read && read->paid_at_ms == good [i].unix_ms);
        if (read)
            kaiin__test_codec__order__free_unpacked (read, NULL);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        snprintf (text, sizeof text, "{\"paid_at\": \"%s\"}", bad [i]);
        CHECK (!s_read (&kaiin__test_codec__order__descriptor, text, &errors));
        CHECK (s_errors_are (&errors, "[{\"field\": \"paid_at\", \"reason\":"
                             " \"must be an RFC 3339 date-time, e.g. 2027-03-31T23:59:59+09:00\"}]"));
    }
    /* A time is a string, under its name without _ms. */
    CHECK (!s_read (&kaiin__test_codec__order__descriptor,
                    "{\"paid_at\": 1795594270123, \"paid_at_ms\": 1795594270123}", &errors));
    CHECK (s_errors_are (&errors,
        "[{\"field\": \"paid_at\", \"reason\": \"must be an RFC 3339 date-time, e.g. 2027-03-31T23:59:59+09:00\"},"
        " {\"field\": \"paid_at_ms\", \"reason\": \"is not a field of this request\"}]"));
}

static void
s_test_nulls (void)
{
    pb_json_errors_t errors;
    Kaiin__TestCodec__Order *read = s_read (&kaiin__test_codec__order__descriptor,
        "{\"id\": null, \"lines\": null, \"first\": null, \"card\": null, \"note\": null,"
        " \"discount\": null, \"paid_at\": null, \"reminded_at\": [null, \"2026-11-25T08:11:10.123Z\"],"
        " \"scalars\": {\"text\": null, \"created_at\": null}}", &errors);
    CHECK (read && errors.count == 0);
    CHECK (read && strcmp (read->id, "") == 0 && read->n_lines == 0 && !read->first
           && read->payment_case == KAIIN__TEST_CODEC__ORDER__PAYMENT__NOT_SET
           && read->_note_case == KAIIN__TEST_CODEC__ORDER___NOTE__NOT_SET
           && read->_discount_case == KAIIN__TEST_CODEC__ORDER___DISCOUNT__NOT_SET
           && read->paid_at_ms == 0 && read->n_reminded_at_ms == 2
           && read->reminded_at_ms [0] == 0 && read->reminded_at_ms [1] == T_2026
           && read->scalars && strcmp (read->scalars->text, "") == 0 && read->scalars->created_at_ms == 0);
    kaiin__test_codec__order__free_unpacked (read, NULL);

    CHECK (!s_read (&kaiin__test_codec__order__descriptor,
        "{\"tags\": [\"a\", null], \"lines\": [null],"
        " \"scalars\": {\"i32\": null, \"flag\": null, \"color\": null, \"blob\": null, \"ratio\": null}}",
        &errors));
    CHECK (s_errors_are (&errors,
        "[{\"field\": \"tags[1]\", \"reason\": \"must not be null\"},"
        " {\"field\": \"lines[0]\", \"reason\": \"must not be null\"},"
        " {\"field\": \"scalars.i32\", \"reason\": \"must not be null\"},"
        " {\"field\": \"scalars.flag\", \"reason\": \"must not be null\"},"
        " {\"field\": \"scalars.color\", \"reason\": \"must not be null\"},"
        " {\"field\": \"scalars.blob\", \"reason\": \"must not be null\"},"
        " {\"field\": \"scalars.ratio\", \"reason\": \"must not be null\"}]"));
}

static void
s_test_errors (void)
{
    pb_json_errors_t errors;
    /* Every bad field at once, named by its path, in the order met; nothing is returned. */
    CHECK (!s_read (&kaiin__test_codec__order__descriptor,
        "{\"id\": 5, \"bogus\": 1,"
        " \"lines\": [{\"sku\": \"a\"}, {\"quantity\": 1}, {\"quantity\": \"3\", \"extra\": true}],"
        " \"counts\": [1, 2147483648], \"colors\": [\"red\", \"purple\", \"RED\"], \"tags\": \"x\","
        " \"first\": [], \"scalars\": {\"u32\": -1, \"i64\": 1.5, \"flag\": \"yes\", \"blob\": \"AAH\","
        " \"color\": 1, \"u64\": -1, \"ratio\": 1e39, \"text\": 3}}", &errors));
    CHECK (errors.count == 17 && !errors.truncated);
    CHECK (s_errors_are (&errors,
        "[{\"field\": \"id\", \"reason\": \"must be a string\"},"
        " {\"field\": \"bogus\", \"reason\": \"is not a field of this request\"},"
        " {\"field\": \"lines[2].quantity\", \"reason\": \"must be an integer from -2147483648 to 2147483647\"},"
        " {\"field\": \"lines[2].extra\", \"reason\": \"is not a field of this request\"},"
        " {\"field\": \"counts[1]\", \"reason\": \"must be an integer from -2147483648 to 2147483647\"},"
        " {\"field\": \"colors[1]\", \"reason\": \"must be one of color_unspecified, red, dark_blue\"},"
        " {\"field\": \"colors[2]\", \"reason\": \"must be one of color_unspecified, red, dark_blue\"},"
        " {\"field\": \"tags\", \"reason\": \"must be an array\"},"
        " {\"field\": \"first\", \"reason\": \"must be a JSON object\"},"
        " {\"field\": \"scalars.u32\", \"reason\": \"must be an integer from 0 to 4294967295\"},"
        " {\"field\": \"scalars.i64\", \"reason\": \"must be an integer from -9223372036854775808 to 9223372036854775807\"},"
        " {\"field\": \"scalars.flag\", \"reason\": \"must be true or false\"},"
        " {\"field\": \"scalars.blob\", \"reason\": \"must be base64 (RFC 4648, padded)\"},"
        " {\"field\": \"scalars.color\", \"reason\": \"must be one of color_unspecified, red, dark_blue\"},"
        " {\"field\": \"scalars.u64\", \"reason\": \"must be an integer from 0 to 18446744073709551615\"},"
        " {\"field\": \"scalars.ratio\", \"reason\": \"must be a number from -3.4e38 to 3.4e38\"},"
        " {\"field\": \"scalars.text\", \"reason\": \"must be a string\"}]"));
    /* Past the limit, errors are counted no more. */
    json_t *many = json_object ();
    char key [32];
    for (int i = 0; i < PB_JSON_ERRORS_MAX + 5; i++) {
        snprintf (key, sizeof key, "unknown_%02d", i);
        json_object_set_new (many, key, json_true ());
    }
    CHECK (!pb_json_to_message (&kaiin__test_codec__order__descriptor, many, &errors));
    CHECK (errors.count == PB_JSON_ERRORS_MAX && errors.truncated
           && strcmp (errors.list [PB_JSON_ERRORS_MAX - 1].field, "unknown_19") == 0);
    json_decref (many);

    /* An empty key is unknown like any other; not an object at all; a string with a NUL. */
    CHECK (!s_read (&kaiin__test_codec__order__descriptor, "{\"\": 1}", &errors));
    CHECK (s_errors_are (&errors, "[{\"field\": \"\", \"reason\": \"is not a field of this request\"}]"));
    json_t *array = json_array ();
    CHECK (!pb_json_to_message (&kaiin__test_codec__order__descriptor, array, &errors));
    CHECK (s_errors_are (&errors, "[{\"field\": \"body\", \"reason\": \"must be a JSON object\"}]"));
    json_decref (array);
    json_t *object = json_pack ("{s:s#}", "id", "a\0b", (size_t) 3);
    CHECK (!pb_json_to_message (&kaiin__test_codec__order__descriptor, object, &errors));
    CHECK (s_errors_are (&errors, "[{\"field\": \"id\", \"reason\": \"must not contain NUL characters\"}]"));
    json_decref (object);

    /* A long unknown key is cut on a character, so the error list stays valid UTF-8. */
    char text [1024];
    size_t used = snprintf (text, sizeof text, "{\"");
    for (int i = 0; i < 100; i++)
        used += snprintf (text + used, sizeof text - used, "あ");
    snprintf (text + used, sizeof text - used, "\": 1}");
    CHECK (!s_read (&kaiin__test_codec__order__descriptor, text, &errors));
    json_t *list = pb_json_errors_json (&errors);
    const char *field = json_string_value (json_object_get (json_array_get (list, 0), "field"));
    CHECK (field && strlen (field) == 126 && strncmp (field, "あ", 3) == 0);
    json_decref (list);

    /* Objects nested deeper than the limit. */
    json_t *node = json_object ();
    for (int depth = 0; depth < 40; depth++)
        node = json_pack ("{s:s, s:o}", "name", "n", "child", node);
    CHECK (!pb_json_to_message (&kaiin__test_codec__node__descriptor, node, &errors));
    CHECK (errors.count == 1 && strcmp (errors.list [0].reason, "must not nest objects more than 32 deep") == 0);
    /* ... and in Japanese, for a caller who prefers it: the same field, the table's words */
    CHECK (!pb_json_to_message_in (&kaiin__test_codec__node__descriptor, node, &errors, true));
    CHECK (errors.count == 1 && strcmp (errors.list [0].reason, "オブジェクトの入れ子は 32 段までです") == 0);
    CHECK (!pb_json_to_message (&kaiin__test_codec__node__descriptor, node, &errors) && !errors.japanese);
    json_decref (node);
}

static void
s_test_proto2_optional (void)
{
    Kaiin__TestCodec__Legacy legacy = KAIIN__TEST_CODEC__LEGACY__INIT;
    CHECK (s_renders (&legacy,
        "{\"count\": null, \"label\": null, \"done\": null, \"due_at\": null, \"data\": null}"));
    CHECK (s_round_trip (&legacy.base));
    legacy.has_count = 1;
    legacy.label = "";
    legacy.has_done = 1;
    legacy.has_due_at_ms = 1;
    legacy.due_at_ms = T_2026;
    legacy.has_data = 1;
    CHECK (s_renders (&legacy, "{\"count\": 0, \"label\": \"\", \"done\": false,"
                               " \"due_at\": \"2026-11-25T08:11:10.123Z\", \"data\": \"\"}"));
    CHECK (s_round_trip (&legacy.base));
    pb_json_errors_t errors;
    Kaiin__TestCodec__Legacy *read = s_read (&kaiin__test_codec__legacy__descriptor,
        "{\"count\": 0, \"label\": \"x\", \"done\": null, \"due_at\": null, \"data\": \"\"}", &errors);
    CHECK (read && read->has_count && read->count == 0 && strcmp (read->label, "x") == 0
           && !read->has_done && !read->has_due_at_ms && read->has_data && read->data.len == 0);
    kaiin__test_codec__legacy__free_unpacked (read, NULL);
}

int
main (void)
{
    s_test_scalars ();
    s_test_order ();
    s_test_times ();
    s_test_nulls ();
    s_test_errors ();
    s_test_proto2_optional ();
    return check_report ("pb_json");
}
