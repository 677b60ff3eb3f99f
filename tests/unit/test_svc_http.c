/* test_svc_http.c - a service's HTTP face: the announcement, a route's JSON read into its
   request (rules, defaults, path and query), a reply written as JSON */
#include "check.h"
#include "svc_http.h"
#include "test_codec.pb-c.h"
#include <stdlib.h>
#include <string.h>

#define D(name) (&kaiin__test_codec__##name##__descriptor)

static const svc_route_t s_routes [] = {
    { "POST", "/v1/orders/{id}", "OrderPut", D (order), D (order), "shop.write",
      .keys = "lines! tags note", .query = "color" },
    { "POST", "/v1/orders/{id}/pay", "OrderPay", D (order), D (order), "",
      .keys = "", .fixed = "card=cash", .path_fields = "id=note" },
    { "GET", "/v1/orders/{id}", "OrderGet", D (order), D (order), SVC_OPEN,
      KAIIN__MEMBER_RULE__MEMBER_OWN_OBJECT },
    { "GET", "/v1/orders", "OrderList", D (order), D (order), "", .query = "paid_at" },
    { "PATCH", "/v1/orders/{id}/first", "OrderFirst", D (order), D (order), "", .body = "first",
      .keys = "sku quantity" },
    { "GET", "/v1/orders/search", "OrderList", D (order), D (order), "",
      .query = "tag=tags line.*=lines paid_at" },
    { NULL }
};

static const svc_permission_t s_permissions [] = {
    { "shop.write", "owner admin" },
    { NULL, NULL }
};

static const svc_field_t s_fields [] = {
    { D (line), "sku", SVC_FIELD_REQUIRED, .max_chars = 8, .chars = "a-z" },
    { D (line), "quantity", SVC_FIELD_ZERO_NULL, .min = 1, .max = 10, .absent = "1" },
    { D (order), "tags", 0, .max_chars = 5 },
    { D (order), "paid_at_ms", SVC_FIELD_HIDDEN },
    { NULL }
};

static const svc_http_t s_http = { s_routes, s_permissions, s_fields };

/* A reply's shapes: a field of the output as the reply, "" shown, JSON text, a renamed key. */
static const svc_route_t s_shown_routes [] = {
    { "GET", "/v1/orders/{id}", "OrderGet", D (order), D (order), "" },
    { "GET", "/v1/orders/{id}/first", "OrderGet", D (order), D (order), "", .response = "first" },
    { "POST", "/v1/orders", "OrderPut", D (order), D (order), "", .keys = "details card" },
    { NULL }
};

static const svc_field_t s_shown_fields [] = {
    { D (order), "id", SVC_FIELD_EMPTY_SHOWN },
    { D (order), "lines", .key = "data" },
    { D (order), "note", SVC_FIELD_JSON, .key = "details" },
    { D (order), "card", SVC_FIELD_NOT_NULL },
    { D (line), "sku", SVC_FIELD_EMPTY_SHOWN },
    { NULL }
};

static const svc_http_t s_shown = { s_shown_routes, s_permissions, s_shown_fields };

/* Writes order through s_shown's route as parsed JSON (NULL when it writes none). */
static json_t *
s_write_shown (int route, const Kaiin__TestCodec__Order *order)
{
    uint8_t buffer [256];
    size_t size = kaiin__test_codec__order__pack (order, buffer), json_size;
    char etag [32];
    char *text = svc_http_write (&s_shown, &s_shown_routes [route], false, buffer, size, &json_size, etag);
    json_t *json = text? json_loads (text, 0, NULL): NULL;
    free (text);
    return json;
}

/* Reads body and params through route, into *order (NULL after errors). */
static int
s_read (int route, const char *body, const char *id, const char *query_name, const char *query_value,
        Kaiin__TestCodec__Order **order, pb_json_errors_t *errors)
{
    Kaiin__HttpRequest http = KAIIN__HTTP_REQUEST__INIT;
    Kaiin__HttpParam path = KAIIN__HTTP_PARAM__INIT, query = KAIIN__HTTP_PARAM__INIT;
    Kaiin__HttpParam *params [] = { &path, &query };
    path.name = "id";
    path.value = (char *) id;
    query.name = (char *) query_name;
    query.value = (char *) query_value;
    query.query = true;
    http.params = params;
    http.n_params = query_name? 2: 1;
    http.body.data = (uint8_t *) body;
    http.body.len = strlen (body);
    Kaiin__Request envelope = KAIIN__REQUEST__INIT;
    envelope.http = &http;
    int rc = svc_http_read (&s_http, &s_routes [route], &envelope, errors);
    *order = rc == 0? kaiin__test_codec__order__unpack (NULL, envelope.payload.len, envelope.payload.data): NULL;
    free (envelope.payload.data);
    return rc;
}

/* Reads body and count query parameters through http's route, into *order (NULL after
   errors). */
static int
s_read_query (const svc_http_t *http, int route, const char *body, const char *const *names,
              const char *const *values, size_t count, Kaiin__TestCodec__Order **order,
              pb_json_errors_t *errors)
{
    Kaiin__HttpRequest in = KAIIN__HTTP_REQUEST__INIT;
    Kaiin__HttpParam params [8], *pointers [8];
    for (size_t i = 0; i < count && i < 8; i++) {
        kaiin__http_param__init (&params [i]);
        params [i].name = (char *) names [i];
        params [i].value = (char *) values [i];
        params [i].query = true;
        pointers [i] = &params [i];
    }
    in.params = pointers;
    in.n_params = count;
    in.body.data = (uint8_t *) body;
    in.body.len = strlen (body);
    Kaiin__Request envelope = KAIIN__REQUEST__INIT;
    envelope.http = &in;
    int rc = svc_http_read (http, &http->routes [route], &envelope, errors);
    *order = rc == 0? kaiin__test_codec__order__unpack (NULL, envelope.payload.len, envelope.payload.data): NULL;
    free (envelope.payload.data);
    return rc;
}

/* True when errors are exactly the fields named, in any order. */
static bool
s_fields_are (const pb_json_errors_t *errors, const char *const *names, size_t count)
{
    if (errors->count != count)
        return false;
    for (size_t i = 0; i < count; i++) {
        bool found = false;
        for (size_t j = 0; j < errors->count && !found; j++)
            found = strcmp (errors->list [j].field, names [i]) == 0;
        if (!found)
            return false;
    }
    return true;
}

int
main (void)
{
    /* The announcement: every route with its service's method name, open or not. */
    size_t size;
    uint8_t *packed = svc_http_announcement ("shop", &s_http, &size);
    Kaiin__ServiceApi *api = kaiin__service_api__unpack (NULL, size, packed);
    CHECK (api && strcmp (api->service, "shop") == 0 && api->n_routes == 6 && api->n_permissions == 1);
    CHECK (api->routes [5]->n_query == 3 && strcmp (api->routes [5]->query [0], "tag") == 0
           && strcmp (api->routes [5]->query [1], "line.*") == 0);     /* as clients name them */
    CHECK (strcmp (api->routes [0]->method, "shop.OrderPut") == 0 && !api->routes [0]->open
           && strcmp (api->routes [0]->permission, "shop.write") == 0 && api->routes [0]->status == 200);
    CHECK (api->routes [0]->n_query == 1 && strcmp (api->routes [0]->query [0], "color") == 0);
    CHECK (api->routes [2]->open && api->routes [2]->member == KAIIN__MEMBER_RULE__MEMBER_OWN_OBJECT);
    CHECK (api->permissions [0]->n_roles == 2 && strcmp (api->permissions [0]->roles [1], "admin") == 0);
    kaiin__service_api__free_unpacked (api, NULL);
    free (packed);

    Kaiin__HttpRequest http = KAIIN__HTTP_REQUEST__INIT;
    Kaiin__Request envelope = KAIIN__REQUEST__INIT;
    envelope.http = &http;
    http.route = "POST /v1/orders/{id}/pay";
    CHECK (svc_http_route (&s_http, &envelope) == &s_routes [1]);
    http.route = "PUT /v1/orders/{id}";
    CHECK (svc_http_route (&s_http, &envelope) == NULL);

    /* A good body: the path's id, a line's quantity by default, the query's enum. */
    Kaiin__TestCodec__Order *order;
    pb_json_errors_t errors;
    CHECK (s_read (0, "{\"lines\": [{\"sku\": \"abc\"}, {\"sku\": \"d\", \"quantity\": 3}], \"tags\": [\"ok\"]}",
                   "42", NULL, NULL, &order, &errors) == 0);
    CHECK (order && strcmp (order->id, "42") == 0 && order->n_lines == 2
           && strcmp (order->lines [0]->sku, "abc") == 0 && order->lines [0]->quantity == 1
           && order->lines [1]->quantity == 3 && order->n_tags == 1);
    if (order)
        kaiin__test_codec__order__free_unpacked (order, NULL);

    /* Every bad field at once, one reason each. */
    CHECK (s_read (0, "{\"lines\": [{\"sku\": \"ABC\", \"quantity\": 11}, {\"quantity\": 2}],"
                      " \"tags\": [\"toolong\"], \"extra\": 1, \"id\": \"x\"}",
                   "42", "size", "9", &order, &errors) == -1 && !order);
    const char *const bad [] = { "lines[0].sku", "lines[0].quantity", "lines[1].sku", "tags[0]",
                                 "extra", "id", "size" };
    CHECK (s_fields_are (&errors, bad, 7));
    CHECK (s_read (0, "", "42", NULL, NULL, &order, &errors) == -1);      /* a required key */
    CHECK (s_fields_are (&errors, (const char *const []) { "body" }, 1));
    CHECK (s_read (0, "{}", "42", NULL, NULL, &order, &errors) == -1);
    CHECK (s_fields_are (&errors, (const char *const []) { "lines" }, 1)
           && strcmp (errors.list [0].reason, "is required") == 0);
    CHECK (s_read (0, "{\"lines\": []", "42", NULL, NULL, &order, &errors) == -1);
    CHECK (s_fields_are (&errors, (const char *const []) { "body" }, 1));
    CHECK (s_read (0, "{\"lines\": [], \"note\": null}", "42", "color", "dark_blue", &order, &errors) == -1);
    CHECK (s_fields_are (&errors, (const char *const []) { "color" }, 1));   /* not a field */

    /* A wrong type named beside a missing key. */
    CHECK (s_read (0, "{\"tags\": 5}", "42", NULL, NULL, &order, &errors) == -1);
    CHECK (s_fields_are (&errors, (const char *const []) { "lines", "tags" }, 2));

    /* A body field's key named once, as the client sent it, though the codec sees it inside
       the field ("first.sku"). */
    CHECK (s_read (4, "{\"colour\": 1, \"sku\": 5}", "42", NULL, NULL, &order, &errors) == -1);
    CHECK (s_fields_are (&errors, (const char *const []) { "colour", "sku" }, 2));

    /* A time in the query, RFC 3339 with any offset. */
    CHECK (s_read (3, "", "42", "paid_at", "2026-11-25T09:00:00+09:00", &order, &errors) == 0);
    CHECK (order && order->paid_at_ms == 1795564800000LL);
    if (order)
        kaiin__test_codec__order__free_unpacked (order, NULL);
    CHECK (s_read (3, "", "42", "paid_at", "yesterday", &order, &errors) == -1);
    CHECK (s_fields_are (&errors, (const char *const []) { "paid_at" }, 1));

    /* A query parameter filling a field of another name, given once an item; a prefix's
       parameters as map entries, the value read as its field's type. */
    CHECK (s_read_query (&s_http, 5, "", (const char *const []) { "tag", "line.abc", "tag", "line.d" },
                         (const char *const []) { "a", "3", "b", "4" }, 4, &order, &errors) == 0);
    CHECK (order && order->n_tags == 2 && strcmp (order->tags [1], "b") == 0 && order->n_lines == 2
           && strcmp (order->lines [0]->sku, "abc") == 0 && order->lines [0]->quantity == 3
           && strcmp (order->lines [1]->sku, "d") == 0 && order->lines [1]->quantity == 4);
    if (order)
        kaiin__test_codec__order__free_unpacked (order, NULL);
    CHECK (s_read_query (&s_http, 5, "", (const char *const []) { "line.", "line.x", "tags", "paid_at", "paid_at" },
                         (const char *const []) { "1", "many", "a", "2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z" },
                         5, &order, &errors) == -1);
    CHECK (s_fields_are (&errors, (const char *const []) { "line.", "line.x", "tags", "paid_at" }, 4));

    /* An object given under a JSON field's key, read as its text; a key that must not be null. */
    CHECK (s_read_query (&s_shown, 2, "{\"details\": {\"a\": [1]}, \"card\": \"visa\"}", NULL, NULL, 0,
                         &order, &errors) == 0);
    CHECK (order && order->_note_case == KAIIN__TEST_CODEC__ORDER___NOTE_NOTE
           && strcmp (order->note, "{\"a\":[1]}") == 0 && strcmp (order->card, "visa") == 0);
    if (order)
        kaiin__test_codec__order__free_unpacked (order, NULL);
    CHECK (s_read_query (&s_shown, 2, "{\"details\": [1], \"card\": null}", NULL, NULL, 0, &order, &errors) == -1);
    CHECK (s_fields_are (&errors, (const char *const []) { "details", "card" }, 2)
           && strcmp (errors.list [0].reason, "must be a JSON object") == 0
           && strcmp (errors.list [1].reason, "must not be null") == 0);

    /* No body at all where no key is required; a fixed field; {id} filling another field. */
    CHECK (s_read (1, "", "7", NULL, NULL, &order, &errors) == 0);
    CHECK (order && strcmp (order->card, "cash") == 0 && strcmp (order->note, "7") == 0 && !*order->id);
    if (order)
        kaiin__test_codec__order__free_unpacked (order, NULL);

    /* A reply as JSON: hidden fields left out, a zero meaning none as null. */
    Kaiin__TestCodec__Line line = KAIIN__TEST_CODEC__LINE__INIT, *lines [] = { &line };
    line.sku = "abc";
    Kaiin__TestCodec__Order reply = KAIIN__TEST_CODEC__ORDER__INIT;
    reply.id = "42";
    reply.n_lines = 1;
    reply.lines = lines;
    reply.paid_at_ms = 1795594270123LL;
    uint8_t buffer [256];
    size_t reply_size = kaiin__test_codec__order__pack (&reply, buffer), json_size;
    char etag [32];
    char *json = svc_http_write (&s_http, &s_routes [2], false, buffer, reply_size, &json_size, etag);
    CHECK (json && strcmp (json, "{\"id\":\"42\",\"lines\":[{\"sku\":\"abc\",\"quantity\":null,\"shipped_at\":null}],"
                                 "\"tags\":[],\"counts\":[],\"colors\":[],\"reminded_at\":[],\"first\":null,"
                                 "\"card\":null,\"voucher\":null,\"note\":null,\"discount\":null,"
                                 "\"scalars\":null}") == 0);
    CHECK (json && json_size == strlen (json) && *etag == 0);
    free (json);
    CHECK (svc_http_write (&s_http, &s_routes [2], false, (const uint8_t *) "\xff\xff", 2, &json_size, etag) == NULL);

    /* "" shown as "", JSON text as its value, renamed keys; a field of the output as the
       reply, or none when it is not set. */
    Kaiin__TestCodec__Line empty = KAIIN__TEST_CODEC__LINE__INIT, *some [] = { &empty };
    Kaiin__TestCodec__Order shaped = KAIIN__TEST_CODEC__ORDER__INIT;
    shaped.n_lines = 1;
    shaped.lines = some;
    shaped._note_case = KAIIN__TEST_CODEC__ORDER___NOTE_NOTE;
    shaped.note = "{\"a\": [1]}";
    json_t *shown = s_write_shown (0, &shaped);
    CHECK (shown && json_is_string (json_object_get (shown, "id"))
           && strcmp (json_string_value (json_object_get (shown, "id")), "") == 0);
    CHECK (shown && !json_object_get (shown, "lines") && !json_object_get (shown, "note"));
    json_t *data = json_object_get (shown, "data");
    CHECK (json_array_size (data) == 1
           && json_is_string (json_object_get (json_array_get (data, 0), "sku")));
    CHECK (json_integer_value (json_array_get (json_object_get (json_object_get (shown, "details"), "a"), 0)) == 1);
    json_decref (shown);
    shaped.note = "not JSON";
    shown = s_write_shown (0, &shaped);
    CHECK (shown && json_is_null (json_object_get (shown, "details")));
    json_decref (shown);
    CHECK (s_write_shown (1, &shaped) == NULL);
    Kaiin__TestCodec__Line first = KAIIN__TEST_CODEC__LINE__INIT;
    first.sku = "x";
    first.quantity = 2;
    shaped.first = &first;
    shown = s_write_shown (1, &shaped);
    CHECK (shown && json_object_size (shown) == 3
           && strcmp (json_string_value (json_object_get (shown, "sku")), "x") == 0
           && json_integer_value (json_object_get (shown, "quantity")) == 2);
    json_decref (shown);
    return check_report ("svc_http");
}
