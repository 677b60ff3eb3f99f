/* test_svc_openapi.c - a service's OpenAPI paths and schemas, generated from its routes,
   permissions, field rules, descriptors and proto comments */
#include "check.h"
#include "svc_openapi.h"
#include "test_codec.pb-c.h"
#include <stdlib.h>
#include <string.h>

#define D(name) (&kaiin__test_codec__##name##__descriptor)

static const svc_route_t s_routes [] = {
    { "POST", "/v1/orders/{id}", "OrderPut", D (order), D (order), "shop.orders.write",
      .keys = "lines! tags note", .status = 201, .location = "/v1/orders/{id}", .if_match = true },
    { "GET", "/v1/orders/{key}", "OrderGet", D (order), D (order), SVC_OPEN,
      KAIIN__MEMBER_RULE__MEMBER_OWN_OBJECT, .path_fields = "key=id" },
    { "PATCH", "/v1/orders/{id}/first", "OrderFirst", D (order), D (order), "",
      .body = "first", .keys = "sku quantity", .response = "first" },
    { "GET", "/v1/orders", "OrderGet", D (order), D (order), "shop.orders.write",
      .query = "tag=tags line.*=lines paid_at" },
    { NULL }
};

static const svc_permission_t s_permissions [] = {
    { "shop.orders.write", "owner admin support" },
    { NULL, NULL }
};

static const svc_field_t s_fields [] = {
    { D (order), "id", SVC_FIELD_EMPTY_SHOWN },
    { D (order), "lines", .key = "data" },
    { D (order), "tags", 0, .max_chars = 5, .one_of = "red blue" },
    { D (order), "paid_at_ms", SVC_FIELD_HIDDEN },
    { D (line), "sku", SVC_FIELD_REQUIRED, .max_chars = 8, .chars = "a-z-" },
    { D (line), "quantity", SVC_FIELD_ZERO_NULL, .min = 1, .max = 10, .absent = "1" },
    { NULL }
};

static const svc_doc_t s_docs [] = {
    { "kaiin.test_codec.Order.id", "the order's own id" },
    { NULL, NULL }
};

static const svc_method_t s_methods [] = {
    { "OrderPut", NULL, true },
    { "OrderGet", NULL, false },
    { NULL, NULL, false }
};

static const svc_http_t s_http = { s_routes, s_permissions, s_fields, .docs = s_docs };
static const svc_def_t s_def = { .name = "shop", .methods = s_methods, .http = &s_http };

/* The value at a path of keys under root ("a>b>0>c": a number indexes an array), borrowed. */
static json_t *
s_at (json_t *root, const char *path)
{
    char key [128];
    while (root && *path) {
        size_t length = strcspn (path, ">");
        snprintf (key, sizeof key, "%.*s", (int) length, path);
        root = json_is_array (root)? json_array_get (root, (size_t) atoi (key)): json_object_get (root, key);
        path += length + (path [length] == '>');
    }
    return root;
}

static bool
s_is (json_t *root, const char *path, const char *json)
{
    json_t *expected = json_loads (json, JSON_DECODE_ANY, NULL);
    bool same = json_equal (s_at (root, path), expected);
    if (!same) {
        char *got = json_dumps (s_at (root, path), JSON_ENCODE_ANY | JSON_COMPACT);
        fprintf (stderr, "at %s: %s, not %s\n", path, got? got: "(nothing)", json);
        free (got);
    }
    json_decref (expected);
    return same;
}

static void
test_reply_schemas (json_t *schemas)
{
    json_t *order = json_object_get (schemas, "test_codec.Order");
    CHECK (order != NULL);
    CHECK (s_is (order, "additionalProperties", "false"));
    CHECK (s_at (order, "properties>paid_at") == NULL);                 /* hidden */
    CHECK (s_at (order, "properties>lines") == NULL);                   /* shown as data */
    CHECK (s_is (order, "properties>data", "{\"type\": \"array\", \"items\": "
                 "{\"$ref\": \"#/components/schemas/test_codec.Line\"}}"));
    CHECK (s_is (order, "properties>id", "{\"type\": \"string\", \"description\": \"the order's own id\"}"));
    CHECK (s_is (order, "properties>first>nullable", "true"));
    CHECK (s_is (order, "properties>first>allOf>0>$ref", "\"#/components/schemas/test_codec.Line\""));
    CHECK (s_is (order, "properties>note>nullable", "true"));            /* a oneof */
    CHECK (s_is (order, "properties>discount", "{\"type\": \"integer\", \"format\": \"int64\", \"nullable\": true}"));
    CHECK (s_is (order, "properties>tags>items>enum", "[\"red\", \"blue\"]"));
    CHECK (s_is (order, "properties>reminded_at>items>format", "\"date-time\""));
    CHECK (json_array_size (s_at (order, "required")) == json_object_size (s_at (order, "properties")));
    json_t *scalars = json_object_get (schemas, "test_codec.Scalars");
    CHECK (s_is (scalars, "properties>color>enum", "[\"color_unspecified\", \"red\", \"dark_blue\"]"));
    CHECK (s_is (scalars, "properties>created_at>nullable", "true"));
    CHECK (s_is (scalars, "properties>blob>format", "\"byte\""));
    CHECK (s_is (scalars, "properties>u32>minimum", "0"));
    CHECK (s_is (scalars, "properties>ratio>type", "\"number\""));
    CHECK (s_is (scalars, "properties>flag", "{\"type\": \"boolean\"}"));
    json_t *line = json_object_get (schemas, "test_codec.Line");
    CHECK (s_is (line, "properties>quantity>nullable", "true"));        /* 0 is shown as null */
    CHECK (s_is (line, "properties>sku>pattern", "\"^[a-z\\\\-]*$\""));
    CHECK (json_object_get (schemas, "test_codec.Node") == NULL);        /* no route shows it */
}

static void
test_put (json_t *paths)
{
    json_t *put = s_at (paths, "/v1/orders/{id}>post");
    CHECK (s_is (put, "operationId", "\"shop.OrderPut\""));
    CHECK (strstr (json_string_value (s_at (put, "description")), "roles owner admin support") != NULL);
    CHECK (s_is (put, "parameters>0>$ref", "\"#/components/parameters/XRequestId\""));
    CHECK (s_is (put, "parameters>1", "{\"name\": \"id\", \"in\": \"path\", \"required\": true, "
                 "\"schema\": {\"type\": \"string\"}, \"description\": \"the order's own id\"}"));
    CHECK (s_is (put, "parameters>2>$ref", "\"#/components/parameters/IfMatch\""));
    CHECK (s_is (put, "parameters>3>$ref", "\"#/components/parameters/IdempotencyKey\""));
    json_t *body = s_at (put, "requestBody>content");
    body = s_at (json_object_get (body, "application/json"), "schema");
    CHECK (s_is (put, "requestBody>required", "true"));
    CHECK (s_is (body, "required", "[\"lines\"]"));
    CHECK (s_is (body, "additionalProperties", "false"));
    CHECK (json_object_size (s_at (body, "properties")) == 3);
    CHECK (s_at (body, "properties>lines>nullable") == NULL);            /* required: not null */
    CHECK (s_is (body, "properties>lines>items>required", "[\"sku\"]"));
    CHECK (s_is (body, "properties>lines>items>properties>sku>minLength", "1"));
    CHECK (s_is (body, "properties>lines>items>properties>quantity", "{\"type\": \"integer\", "
                 "\"format\": \"int32\", \"minimum\": 1, \"maximum\": 10, \"nullable\": true, \"default\": 1}"));
    CHECK (s_is (body, "properties>note>nullable", "true"));
    json_t *created = s_at (put, "responses>201");
    CHECK (s_is (created, "headers>Location>schema>type", "\"string\""));
    CHECK (s_at (created, "headers>ETag") == NULL);                      /* no version field */
    CHECK (s_at (created, "headers>Idempotency-Replayed") != NULL);
    CHECK (s_is (json_object_get (s_at (created, "content"), "application/json"), "schema>$ref",
                 "\"#/components/schemas/test_codec.Order\""));
    const char *problems [] = { "400", "401", "403", "404", "409", "412", "413", "415", "422",
                                "500", "503", "504" };
    CHECK (json_object_size (s_at (put, "responses")) == 1 + sizeof problems / sizeof problems [0]);
    for (size_t i = 0; i < sizeof problems / sizeof problems [0]; i++)
        CHECK (s_at (s_at (put, "responses"), problems [i]) != NULL);
    CHECK (s_is (put, "security", "[{\"bearerAuth\": []}]"));
}

static void
test_other_routes (json_t *paths)
{
    json_t *get = s_at (paths, "/v1/orders/{key}>get");
    CHECK (s_is (get, "security", "[]"));                                 /* open */
    CHECK (s_at (get, "responses>403") == NULL && s_at (get, "responses>409") == NULL);
    CHECK (s_at (get, "requestBody") == NULL);
    CHECK (s_is (get, "parameters>1>name", "\"key\""));
    CHECK (s_is (get, "parameters>1>description", "\"the order's own id\""));   /* key=id */
    /* the member rule, in api.proto's words (the built-in comments) */
    CHECK (strstr (json_string_value (s_at (get, "description")), "404 for an object") != NULL);
    json_t *patch = s_at (paths, "/v1/orders/{id}/first>patch");
    json_t *content = s_at (patch, "requestBody>content");
    CHECK (json_object_get (content, "application/merge-patch+json") != NULL);
    json_t *body = s_at (json_object_get (content, "application/json"), "schema");
    CHECK (json_object_size (s_at (body, "properties")) == 2 && s_at (body, "required") == NULL);
    CHECK (s_is (patch, "requestBody>required", "false"));
    CHECK (s_is (json_object_get (s_at (patch, "responses>200>content"), "application/json"),
                 "schema>$ref", "\"#/components/schemas/test_codec.Line\""));   /* .response */
    CHECK (strstr (json_string_value (s_at (patch, "description")), "Any signed-in caller") != NULL);
    json_t *list = s_at (paths, "/v1/orders>get");
    CHECK (s_is (list, "operationId", "\"shop.OrderGet.2\""));            /* ids stay unique */
    CHECK (s_is (list, "parameters>1", "{\"name\": \"tag\", \"in\": \"query\", \"required\": false, "
                 "\"explode\": true, \"schema\": {\"type\": \"array\", \"items\": {\"type\": \"string\", "
                 "\"maxLength\": 5, \"minLength\": 1, \"enum\": [\"red\", \"blue\"]}}}"));
    CHECK (s_is (list, "parameters>2>name", "\"line.<key>\""));
    CHECK (s_is (list, "parameters>2>schema>type", "\"integer\""));      /* the entry's value */
    CHECK (s_is (list, "parameters>3>schema", "{\"type\": \"string\", \"format\": \"date-time\"}"));
    CHECK (s_at (list, "responses>404") == NULL);
}

static void
test_announcement (void)
{
    size_t size;
    uint8_t *packed = svc_openapi_announcement (&s_def, &size);
    Kaiin__ServiceApi *api = kaiin__service_api__unpack (NULL, size, packed);
    CHECK (api && api->n_routes == 4 && strcmp (api->routes [0]->method, "shop.OrderPut") == 0);
    json_t *paths = api? json_loads (api->openapi_paths, 0, NULL): NULL;
    json_t *schemas = api? json_loads (api->openapi_schemas, 0, NULL): NULL;
    CHECK (json_object_size (paths) == 4 && json_object_get (schemas, "test_codec.Order"));
    json_decref (paths);
    json_decref (schemas);
    kaiin__service_api__free_unpacked (api, NULL);
    free (packed);
}

int
main (void)
{
    char *paths_text, *schemas_text;
    CHECK (svc_openapi_fragments (&s_def, &paths_text, &schemas_text) == 0);
    json_t *paths = json_loads (paths_text, 0, NULL), *schemas = json_loads (schemas_text, 0, NULL);
    CHECK (json_is_object (paths) && json_is_object (schemas));
    test_reply_schemas (schemas);
    test_put (paths);
    test_other_routes (paths);
    test_announcement ();
    /* the comments of proto/ are built in, by full name */
    CHECK (strcmp (svc_openapi_doc (NULL, "kaiin.MemberRule.MEMBER_ONLY"),
                   "only a member's session may (staff get 403)") == 0);
    CHECK (svc_openapi_doc (NULL, "kaiin.NoSuchThing") == NULL);
    json_decref (paths);
    json_decref (schemas);
    free (paths_text);
    free (schemas_text);
    return check_report ("svc_openapi");
}
