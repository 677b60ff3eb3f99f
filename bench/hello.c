/* hello.c - kaiin-hello: the smallest libmicrohttpd server, the reference for the gateway's HTTP layer
   kaiin-hello PORT    answers every request with 200 {"status":"ok"}, until SIGTERM or SIGINT.
   It starts its daemon with the gateway's own flags and options, so that `make bench` compares
   the gateway's GET /healthz with what libmicrohttpd costs by itself. */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_body [] = "{\"status\":\"ok\"}";

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    (void) cls; (void) url; (void) method; (void) version; (void) upload_data;
    /* The first call brings the headers, the next ones any body (skipped); the last call,
       with nothing more to upload, answers. */
    if (*state == NULL) {
        *state = (void *) s_body;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *response = MHD_create_response_from_buffer (
        sizeof s_body - 1, (void *) s_body, MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result result = MHD_queue_response (connection, MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    return result;
}

int
main (int argc, char *argv [])
{
    char *end = NULL;
    long port = argc == 2 ? strtol (argv [1], &end, 10) : 0;
    if (argc != 2 || *end != 0 || port < 1 || port > 65535) {
        fprintf (stderr, "usage: kaiin-hello PORT\n");
        return 2;
    }
    /* Block the stop signals before the daemon starts its threads, so only sigwait sees them. */
    sigset_t stop;
    sigemptyset (&stop);
    sigaddset (&stop, SIGTERM);
    sigaddset (&stop, SIGINT);
    pthread_sigmask (SIG_BLOCK, &stop, NULL);
    signal (SIGPIPE, SIG_IGN);

    struct MHD_Daemon *daemon = MHD_start_daemon (
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        (uint16_t) port, NULL, NULL, s_answer, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) 2,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 1024,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 30,
        MHD_OPTION_END);
    if (!daemon) {
        fprintf (stderr, "kaiin-hello: cannot listen on port '%ld'\n", port);
        return 1;
    }
    int signo = 0;
    sigwait (&stop, &signo);
    MHD_stop_daemon (daemon);
    return 0;
}
