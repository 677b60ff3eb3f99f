/* echo.c - kaiin-echo, a service for the tests alone: it declares routes and a message the
   gateway's build has never seen, to show that a service reaches clients without the gateway
   being rebuilt or restarted. ECHO_BUILD=2 shows one more response field ("shout"). */
#include "config.h"
#include "echo.pb-c.h"
#include "svc.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D(name) (&kaiin__echo__##name##__descriptor)

extern const svc_doc_t echo_docs [];  /* echo.proto's comments (tests/tests.mk) */

static void
s_prepare (pg_t *db)
{
    pg_prepare (db, "echo_say",
        "insert into said (id, text, said_at) values ($1, $2, to_timestamp ($3::bigint / 1000.0))"
        " on conflict (id) do update set text = excluded.text, said_at = excluded.said_at,"
        " version = said.version + 1"
        " returning id, text, (extract (epoch from said_at) * 1000)::bigint, version");
    pg_prepare (db, "echo_get",
        "select id, text, (extract (epoch from said_at) * 1000)::bigint, version from said"
        " where id = $1");
}

/* Answers the row of result as an Echo. */
static int
s_reply (svc_reply_t *reply, PGresult *result)
{
    if (PQntuples (result) == 0)
        return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "nothing was said under this id");
    Kaiin__Echo__Echo echo = KAIIN__ECHO__ECHO__INIT;
    char shout [256];
    echo.id = PQgetvalue (result, 0, 0);
    echo.text = PQgetvalue (result, 0, 1);
    echo.said_at_ms = strtoll (PQgetvalue (result, 0, 2), NULL, 10);
    echo.version = strtoll (PQgetvalue (result, 0, 3), NULL, 10);
    echo.build = (char *) config_str ("ECHO_BUILD", "1");
    size_t i = 0;
    for (; echo.text [i] && i < sizeof shout - 1; i++)
        shout [i] = (char) toupper ((unsigned char) echo.text [i]);
    shout [i] = 0;
    echo.shout = shout;
    return svc_reply_with (reply, &echo.base);
}

static int
s_say (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Echo__EchoSayRequest *say = (Kaiin__Echo__EchoSayRequest *)
        svc_unpack (request, D (echo_say_request), reply);
    if (!say)
        return -1;
    char text [256] = "", now [24];
    for (int i = 0; i < say->times; i++)
        snprintf (text + strlen (text), sizeof text - strlen (text), "%s%s", i? " ": "", say->text);
    snprintf (now, sizeof now, "%lld", (long long) request->envelope->now_ms);
    const char *params [] = { say->id, text, now };
    PGresult *result = pg_run (request->db, "echo_say", 3, params);
    int rc = result? s_reply (reply, result): svc_db_fail (reply, request->db);
    PQclear (result);
    protobuf_c_message_free_unpacked (&say->base, NULL);
    return rc;
}

static int
s_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Echo__EchoGetRequest *get = (Kaiin__Echo__EchoGetRequest *)
        svc_unpack (request, D (echo_get_request), reply);
    if (!get)
        return -1;
    const char *params [] = { get->id };
    PGresult *result = pg_run (request->db, "echo_get", 1, params);
    int rc = result? s_reply (reply, result): svc_db_fail (reply, request->db);
    PQclear (result);
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}

static const svc_method_t s_methods [] = {
    { "Say", s_say, false },
    { "Get", s_get, false },
    { NULL, NULL, false }
};

static const svc_route_t s_routes [] = {
    { "PUT", "/v1/echo/{id}", "Say", D (echo_say_request), D (echo), "echo.say",
      .keys = "text! times", .status = 201, .location = "/v1/echo/{id}" },
    { "GET", "/v1/echo/{id}", "Get", D (echo_get_request), D (echo), "",
      KAIIN__MEMBER_RULE__MEMBER_OWN_OBJECT },
    { NULL }
};

static const svc_permission_t s_permissions [] = {
    { "echo.say", "owner admin" },
    { NULL, NULL }
};

/* Build 1 hides shout; build 2 shows it (its rules start one further). */
static const svc_field_t s_fields [] = {
    { D (echo), "shout", SVC_FIELD_HIDDEN },
    { D (echo_say_request), "text", 0, .max_chars = 20 },
    { D (echo_say_request), "times", 0, .min = 1, .max = 5, .absent = "1" },
    { NULL }
};

int
main (int argc, char **argv)
{
    bool build_1 = strcmp (config_str ("ECHO_BUILD", "1"), "1") == 0;
    svc_http_t http = { s_routes, s_permissions, build_1? s_fields: s_fields + 1, .docs = echo_docs };
    svc_def_t echo = { .name = "echo", .methods = s_methods, .prepare = s_prepare, .http = &http };
    return svc_main (&echo, argc, argv);
}
