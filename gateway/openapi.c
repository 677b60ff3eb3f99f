/* openapi.c - the OpenAPI document: the gateway's own part (gateway/openapi.json) with the
   paths and schemas each service generated from its declarations (common/svc_openapi.c) and
   announced; a service's operation replaces the gateway's for the same path and verb */
#include "openapi.h"
#include "api_routes.h"
#include "log.h"
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static json_t *s_base;                  /* the gateway's own part */
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static const void *s_made_from;         /* the announcements s_text was made from */
static char *s_text;                    /* the whole document (s_lock) */
static size_t s_size;

int
openapi_init (const char *path)
{
    json_error_t error;
    s_base = json_load_file (path, JSON_REJECT_DUPLICATES, &error);
    if (!json_is_object (s_base)) {
        json_decref (s_base);
        s_base = NULL;
        return log_error ("cannot read the OpenAPI document '%s': %s at line %d", path, error.text,
                          error.line);
    }
    return 0;
}

void
openapi_destroy (void)
{
    json_decref (s_base);
    s_base = NULL;
    free (s_text);
    s_text = NULL;
    s_made_from = NULL;
}

/* The object under key of parent, made empty when it is not there. */
static json_t *
s_object (json_t *parent, const char *key)
{
    json_t *object = json_object_get (parent, key);
    if (!json_is_object (object))
        json_object_set_new (parent, key, object = json_object ());
    return object;
}

/* Merges one service's fragments into the document. */
static void
s_merge (void *arg, const char *service, const char *paths, const char *schemas)
{
    json_t *document = arg;
    json_t *given_paths = *paths? json_loads (paths, 0, NULL): NULL;
    json_t *given_schemas = *schemas? json_loads (schemas, 0, NULL): NULL;
    if ((*paths && !json_is_object (given_paths)) || (*schemas && !json_is_object (given_schemas)))
        log_warn ("the OpenAPI description service '%s' announced cannot be read", service);
    json_t *into = s_object (document, "paths"), *item;
    const char *path;
    json_object_foreach (json_is_object (given_paths)? given_paths: NULL, path, item)
        json_object_update (s_object (into, path), item);
    if (json_is_object (given_schemas))
        json_object_update (s_object (s_object (document, "components"), "schemas"), given_schemas);
    json_t *tags = json_object_get (document, "tags"), *tag;
    size_t i;
    bool tagged = false;
    json_array_foreach (tags, i, tag)
        tagged |= json_is_string (json_object_get (tag, "name"))
                  && strcmp (json_string_value (json_object_get (tag, "name")), service) == 0;
    if (json_is_array (tags) && !tagged && json_object_size (json_is_object (given_paths)? given_paths: NULL))
        json_array_append_new (tags, json_pack ("{s:s}", "name", service));
    json_decref (given_paths);
    json_decref (given_schemas);
}

/* What the gateway adds to the operations services described: a session's cookie is as good
   as its bearer token (cookie.h), and a login sets it and sends its CSRF token. */
static void
s_cookie_sessions (json_t *document)
{
    json_t *item, *operation;
    const char *path, *verb;
    json_object_foreach (json_object_get (document, "paths"), path, item)
        json_object_foreach (item, verb, operation) {
            json_t *security = json_object_get (operation, "security");
            if (json_array_size (security) == 1
            &&  json_object_get (json_array_get (security, 0), "bearerAuth")) {
                json_array_append_new (security, json_pack ("{s:[]}", "sessionCookie"));
                json_array_append_new (security, json_pack ("{s:[]}", "memberSessionCookie"));
            }
            char upper [8] = "";
            for (size_t i = 0; verb [i] && i < sizeof upper - 1; i++)
                upper [i] = (char) toupper ((unsigned char) verb [i]);
            json_t *headers = json_object_get (json_object_get (json_object_get (operation, "responses"),
                                                                "200"), "headers");
            if (json_is_object (headers) && api_routes_signs_in (upper, path)) {
                json_object_set_new (headers, "Set-Cookie", json_pack ("{s:s}", "$ref", "#/components/headers/SetCookie"));
                json_object_set_new (headers, "X-CSRF-Token", json_pack ("{s:s}", "$ref", "#/components/headers/XCsrfToken"));
            }
        }
}

void
openapi_serve (http_request_t *request, bool yaml)
{
    pthread_mutex_lock (&s_lock);
    const void *announced = api_routes_openapi (NULL, NULL);
    if (!s_text || announced != s_made_from) {
        json_t *document = json_deep_copy (s_base);
        api_routes_openapi (s_merge, document);
        s_cookie_sessions (document);
        free (s_text);
        s_text = json_dumps (document, JSON_INDENT (1) | JSON_PRESERVE_ORDER);
        s_size = s_text? strlen (s_text): 0;
        s_made_from = announced;
        json_decref (document);
    }
    if (s_text)
        http_respond_text (request, 200, yaml? "application/yaml": "application/json", s_text, s_size);
    else
        http_problem (request, 500, "the OpenAPI document cannot be written", NULL, NULL);
    pthread_mutex_unlock (&s_lock);
}
