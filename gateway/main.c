/* main.c - kaiin-gateway: HTTP in front, the Majordomo broker behind */
#include "api_routes.h"
#include "config.h"
#include "cookie.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "routes.h"
#include "session.h"
#include "tls.h"
#include "web.h"
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

int
main (void)
{
    log_init ("gateway");
    /* Signals are taken by sigwait below, never by a worker thread. */
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGINT);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    signal (SIGPIPE, SIG_IGN);

    /* The bootstrap token creates the first owner; an empty one (or
       KAIIN_ADMIN_TOKEN_DISABLED=1) turns it off once staff accounts exist. */
    char *admin_token = config_secret ("KAIIN_ADMIN_TOKEN", "");
    if (config_int ("KAIIN_ADMIN_TOKEN_DISABLED", 0, 0, 1))
        *admin_token = 0;
    if (*admin_token && strlen (admin_token) < 16) {
        log_error ("setting 'KAIIN_ADMIN_TOKEN' must be at least 16 characters");
        free (admin_token);
        return 2;
    }
    if (!*admin_token)
        log_info ("the bootstrap admin token is off");
    /* HTTPS when both are set; one without the other, or files that are not a certificate and
       its key, stop start-up. */
    const char *cert_file = config_str ("KAIIN_TLS_CERT_FILE", "");
    const char *key_file = config_str ("KAIIN_TLS_KEY_FILE", "");
    char *tls_cert = NULL, *tls_key = NULL;
    if ((*cert_file || *key_file) && tls_load (cert_file, key_file, &tls_cert, &tls_key) == -1) {
        free (admin_token);
        return 2;
    }
    if (http_trust_proxies (config_str ("KAIIN_TRUSTED_PROXIES", "")) == -1) {
        free (admin_token);
        free (tls_cert);
        free (tls_key);
        return 2;
    }
    mdp_broker_t *broker = mdp_broker_new (config_str ("KAIIN_BROKER_ENDPOINT", "tcp://127.0.0.1:5555"));
    if (!broker)
        return 1;
    routes_config_t routes = {
        .broker = broker,
        .admin_token = admin_token,
        .services = config_str ("KAIIN_SERVICES", "member"),
        .openapi_path = config_str ("KAIIN_OPENAPI", "gateway/openapi.json")
    };
    if (routes_init (&routes) == -1)
        return 1;
    /* The screens: a folder named but unreadable stops start-up; none found, none served. */
    const char *web = config_str ("KAIIN_WEB_DIR", "");
    if (web_init (web) == -1 && *web)
        return 1;
    cookie_init (config_int ("KAIIN_COOKIE_SECURE", 0, 0, 1));
    const char *redis_url = config_str ("KAIIN_REDIS_URL", "redis://127.0.0.1:6379");
    char *redis_password = config_secret ("KAIIN_REDIS_PASSWORD", "");
    session_init (redis_url, config_str ("KAIIN_REDIS_USER", ""), redis_password);
    free (redis_password);
    health_start (config_str ("KAIIN_PG_URL", "postgresql://127.0.0.1:5432/kaiin"));
    http_config_t http = {
        .port = (int) config_int ("KAIIN_HTTP_PORT", 8080, 1, 65535),
        .threads = (int) config_int ("KAIIN_HTTP_THREADS", 2, 1, 64),
        .max_connections = (int) config_int ("KAIIN_MAX_CONNECTIONS", 1024, 1, 100000),
        .max_connections_per_ip = (int) config_int ("KAIIN_MAX_CONNECTIONS_PER_IP", 256, 1, 100000),
        .timeout_s = (int) config_int ("KAIIN_HTTP_IDLE_TIMEOUT_S", 30, 1, 3600),
        .request_timeout_ms = (int) config_int ("KAIIN_REQUEST_TIMEOUT_MS", 5000, 10, 600000),
        .broker = broker,
        .tls_cert = tls_cert,
        .tls_key = tls_key,
        .dispatch = routes_dispatch,
        .body_limit = routes_body_limit,
        .streamed = api_routes_streamed,
        .slice_size = (size_t) config_int ("KAIIN_UPLOAD_SLICE_BYTES", 4 << 20, 64, 64 << 20),
        .before_body = routes_before_body
    };
    if (http_start (&http) == -1)
        return 1;

    int signum;
    sigwait (&signals, &signum);
    log_info ("stopping on signal %d: finishing requests in flight", signum);
    int left = http_quiesce (http.request_timeout_ms + 1000);
    if (left)
        log_warn ("%d requests still in flight, answering them 503", left);
    mdp_broker_destroy (&broker);       /* answers what is still pending */
    http_stop ();
    health_stop ();
    routes_destroy ();
    web_destroy ();
    free (admin_token);
    free (tls_cert);
    tls_free (&tls_key);
    log_info ("stopped");
    return 0;
}
