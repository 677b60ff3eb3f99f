/* fuzz_http.c - what a service reads from an HTTP request (common/svc_http.c's svc_http_read:
   path and query parameters, the JSON body and the declared rules of its fields), through
   the real routes of member, billing, messaging and analytics. An input is the route's
   number (its first byte; the high bit asks for Japanese), "name=value" lines for the
   parameters ("?name=value": the query's; a path's only when the route's path has {name}, as
   the gateway's are) up to an empty line, then the body. A refusal
   always names a field; what is taken packs into the envelope's payload. */
#include "svc_http.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const svc_http_t member_http, billing_http, messaging_http, analytics_http;

/* The route numbered n, counting every service's in turn (wrapping around). */
static const svc_route_t *
s_route (unsigned n, const svc_http_t **http)
{
    const svc_http_t *services [] = { &member_http, &billing_http, &messaging_http, &analytics_http };
    unsigned total = 0;
    for (int s = 0; s < 4; s++)
        for (const svc_route_t *route = services [s]->routes; route->verb; route++)
            total++;
    n %= total;
    for (int s = 0; s < 4; s++)
        for (const svc_route_t *route = services [s]->routes; route->verb; route++)
            if (n-- == 0) {
                *http = services [s];
                return route;
            }
    return NULL;
}

/* Whether route's path has {name}. */
static bool
s_in_path (const svc_route_t *route, const char *name)
{
    char placeholder [256];
    snprintf (placeholder, sizeof placeholder, "{%s}", name);
    return *name && strstr (route->path, placeholder);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const svc_http_t *http;
    const svc_route_t *route = s_route (data [0] & 0x7f, &http);
    char name [256];
    snprintf (name, sizeof name, "%s %s", route->verb, route->path);

    char *text = malloc (size);
    memcpy (text, data + 1, size - 1);
    text [size - 1] = 0;
    Kaiin__HttpParam params [16], *param_list [16];
    size_t count = 0;
    char *line = text, *body = text + strlen (text);
    while (*line) {
        char *end = strchr (line, '\n');
        if (end == line) {                    /* the empty line: the body follows */
            body = line + 1;
            break;
        }
        if (end)
            *end = 0;
        char *equals = strchr (line, '=');
        if (equals && count < 16) {
            *equals = 0;
            kaiin__http_param__init (&params [count]);
            params [count].query = line [0] == '?';
            params [count].name = line + params [count].query;
            params [count].value = equals + 1;
            param_list [count] = &params [count];
            count += params [count].query || s_in_path (route, line);
        }
        if (!end) {
            body = line + strlen (line);
            break;
        }
        line = end + 1;
    }
    Kaiin__HttpRequest request = KAIIN__HTTP_REQUEST__INIT;
    request.route = name;
    request.body.data = (uint8_t *) body;
    request.body.len = strlen (body);
    request.n_params = count;
    request.params = param_list;
    Kaiin__Request envelope = KAIIN__REQUEST__INIT;
    envelope.http = &request;
    envelope.language = data [0] & 0x80? "ja": "";
    if (svc_http_route (http, &envelope) != route)
        abort ();
    pb_json_errors_t errors;
    if (svc_http_read (http, route, &envelope, &errors) == 0) {
        if (envelope.payload.len && !envelope.payload.data)
            abort ();
    }
    else
    for (size_t i = 0; i < errors.count || i == 0; i++)
        if (i == errors.count || !errors.list [i].field [0]) {
            fprintf (stderr, "%s: refused without naming a field (%s)\n", name,
                     i < errors.count? errors.list [i].reason: "no errors");
            abort ();
        }
    free (envelope.payload.data);
    free (text);
    return 0;
}
