/* test_svc.c - svc_call through a real broker to a worker, the test clock, and the codes the
   error setters give a reply */
#include "check.h"
#include "../../common/svc_call.c"
#include "clock.pb-c.h"
#include "mdp_worker.h"
#include "mdp_broker.h"
#include <stdatomic.h>

static char s_endpoint [64];
static volatile sig_atomic_t s_worker_stop;
static atomic_int s_seen;

/* A "peer" service: answers peer.Echo with a ClockSetReply carrying the envelope's now and
   the caller's length, peer.Fail with NOT_FOUND; it checks the envelope on the way. */
static void *
s_peer (void *arg)
{
    char *seen = arg;
    mdp_worker_t *worker = mdp_worker_new (s_endpoint, "peer", "test", 1, NULL, 0, &s_worker_stop);
    size_t size;
    void *body;
    mdp_address_t from;
    while ((body = mdp_worker_recv (worker, &size, &from))) {
        Kaiin__Request *request = kaiin__request__unpack (NULL, size, body);
        Kaiin__Reply reply = KAIIN__REPLY__INIT;
        Kaiin__ClockSetReply answer = KAIIN__CLOCK_SET_REPLY__INIT;
        uint8_t payload [64];
        if (request) {
            snprintf (seen, 256, "%s|%s|%s|%s", request->method, request->caller_id,
                      request->caller_role, request->request_id);
            Kaiin__ClockSetRequest *in = kaiin__clock_set_request__unpack (NULL,
                request->payload.len, request->payload.data);
            answer.now_ms = request->now_ms;
            answer.work_done = in? (int32_t) in->now_ms: -1;
            if (in)
                kaiin__clock_set_request__free_unpacked (in, NULL);
            if (strcmp (request->method, "peer.Fail") == 0) {
                reply.status = KAIIN__STATUS__NOT_FOUND;
                reply.message = "no such thing";
            }
            else {
                reply.payload.len = kaiin__clock_set_reply__pack (&answer, payload);
                reply.payload.data = payload;
            }
            kaiin__request__free_unpacked (request, NULL);
        }
        uint8_t packed [256];
        size_t packed_size = kaiin__reply__pack (&reply, packed);
        atomic_fetch_add (&s_seen, 1);      /* before the reply: the caller reads it after */
        mdp_worker_reply (worker, &from, packed, packed_size);
        free (body);
    }
    mdp_worker_destroy (&worker);
    return NULL;
}

static void *
s_call_from_thread (void *arg)
{
    Kaiin__ClockSetRequest in = KAIIN__CLOCK_SET_REQUEST__INIT;
    in.now_ms = 7;
    ProtobufCMessage *out;
    *(Kaiin__Status *) arg = svc_call ("peer.Echo", &in.base, &kaiin__clock_set_reply__descriptor, &out, 2000);
    if (out)
        protobuf_c_message_free_unpacked (out, NULL);
    return NULL;
}

/* svc_fail, svc_field_error and their kin set the code of the sentence the table has (the
   same in either language), none for a sentence it has not; so does pb_json_error. */
static void
s_check_codes (void)
{
    svc_reply_t reply = { .japanese = true };
    svc_field_error (&reply, "email", "must be an integer from %ld to %ld", 1L, 9L);
    CHECK (reply.status == KAIIN__STATUS__INVALID_ARGUMENT);
    CHECK (reply.code && strcmp (reply.code, "invalid_fields") == 0);
    CHECK (reply.errors [0].code && strcmp (reply.errors [0].code, "integer_out_of_range") == 0);
    CHECK (strcmp (reply.errors [0].reason, "1 から 9 までの整数を指定してください") == 0);
    svc_field_error_say (&reply, "name", "is required");
    CHECK (reply.errors [1].code && strcmp (reply.errors [1].code, "required") == 0);
    CHECK (strcmp (reply.errors [1].reason, "必須です") == 0);
    svc_field_error (&reply, "x", "an untabled %s", "reason");
    CHECK (reply.errors [2].code == NULL);
    svc_field_error_coded (&reply, "y", "not_null", "null は指定できません");
    CHECK (reply.errors [3].code && strcmp (reply.errors [3].code, "not_null") == 0);
    CHECK (svc_fail (&reply, KAIIN__STATUS__NOT_FOUND, "member not found") == -1);
    CHECK (reply.code && strcmp (reply.code, "member_not_found") == 0);
    CHECK (strcmp (reply.message, "会員が見つかりません") == 0);
    reply.japanese = false;
    CHECK (svc_fail_say (&reply, KAIIN__STATUS__NOT_FOUND, "no such member") == -1);
    CHECK (reply.code && strcmp (reply.code, "member_not_found") == 0);
    CHECK (strcmp (reply.message, "no such member") == 0);
    svc_fail (&reply, KAIIN__STATUS__INTERNAL, "an untabled failure");
    CHECK (reply.code == NULL);

    pb_json_errors_t errors = { .japanese = true };
    pb_json_error (&errors, "a", "must be true or false");
    pb_json_error_say (&errors, "b", "must be a string");
    pb_json_error_copy (&errors, "c", &errors.list [0]);
    pb_json_error (&errors, "d", "%s", "untabled");
    CHECK (errors.count == 4);
    CHECK (errors.list [0].code && strcmp (errors.list [0].code, "not_boolean") == 0);
    CHECK (errors.list [1].code && strcmp (errors.list [1].code, "not_string") == 0);
    CHECK (strcmp (errors.list [1].reason, "文字列を指定してください") == 0);
    CHECK (errors.list [2].code == errors.list [0].code);
    CHECK (strcmp (errors.list [2].reason, errors.list [0].reason) == 0);
    CHECK (errors.list [3].code == NULL);
}

int
main (void)
{
    setenv ("KAIIN_TEST_MODE", "1", 1);
    s_check_codes ();

    /* The test clock: moves forward only, process-wide. */
    CHECK (clock_test_mode ());
    int64_t real = clock_now_ms ();
    clock_set_ms (real - 3600 * 1000);
    CHECK (clock_now_ms () - real < 1000);
    int64_t later = real + 40LL * 24 * 3600 * 1000;
    clock_set_ms (later);
    CHECK (clock_now_ms () >= later && clock_now_ms () - later < 1000);
    clock_set_ms (later - 1000);
    CHECK (clock_now_ms () >= later);

    mdp_broker_t *broker = NULL;
    for (int attempt = 0; attempt < 20 && !broker; attempt++) {
        snprintf (s_endpoint, sizeof s_endpoint, "tcp://127.0.0.1:%d",
                  20000 + (int) ((getpid () + 211 + attempt * 7919) % 30000));
        broker = mdp_broker_new (s_endpoint);
    }
    CHECK (broker != NULL);
    setenv ("KAIIN_BROKER_ENDPOINT", s_endpoint, 1);
    svc_def_t def = { .name = "tester" };
    s_def = &def;

    /* Nobody serves "peer" yet: UNAVAILABLE, and nothing to free. */
    Kaiin__ClockSetRequest in = KAIIN__CLOCK_SET_REQUEST__INIT;
    in.now_ms = 42;
    ProtobufCMessage *out = (ProtobufCMessage *) &in;
    CHECK (svc_call ("peer.Echo", &in.base, &kaiin__clock_set_reply__descriptor, &out, 2000)
           == KAIIN__STATUS__UNAVAILABLE);
    CHECK (out == NULL);
    CHECK (svc_call ("noservice", &in.base, &kaiin__clock_set_reply__descriptor, &out, 2000)
           == KAIIN__STATUS__INVALID_ARGUMENT);

    char seen [256] = "";
    pthread_t peer;
    pthread_create (&peer, NULL, s_peer, seen);
    for (int i = 0; i < 200 && mdp_broker_workers (broker, "peer") == 0; i++)
        usleep (10000);

    /* Outside a request: a fresh request id, this process's clock, caller service:<name>. */
    CHECK (svc_call ("peer.Echo", &in.base, &kaiin__clock_set_reply__descriptor, &out, 2000)
           == KAIIN__STATUS__OK);
    Kaiin__ClockSetReply *answer = (Kaiin__ClockSetReply *) out;
    CHECK (answer && answer->work_done == 42);
    CHECK (answer && answer->now_ms >= later && answer->now_ms - later < 5000);
    if (out)
        protobuf_c_message_free_unpacked (out, NULL);
    CHECK (strncmp (seen, "peer.Echo|service:tester|service|", 33) == 0);
    CHECK (strlen (seen) == 33 + 32);

    /* Inside a request: its id and its now travel on. */
    Kaiin__Request current = KAIIN__REQUEST__INIT;
    current.request_id = "req-123";
    current.now_ms = 1234567;
    s_current = &current;
    CHECK (svc_call ("peer.Echo", &in.base, &kaiin__clock_set_reply__descriptor, &out, 2000)
           == KAIIN__STATUS__OK);
    answer = (Kaiin__ClockSetReply *) out;
    CHECK (answer && answer->now_ms == 1234567);
    if (out)
        protobuf_c_message_free_unpacked (out, NULL);
    CHECK (strcmp (seen, "peer.Echo|service:tester|service|req-123") == 0);
    s_current = NULL;

    /* An error status comes back as it is, with nothing to free. */
    CHECK (svc_call ("peer.Fail", &in.base, &kaiin__clock_set_reply__descriptor, &out, 2000)
           == KAIIN__STATUS__NOT_FOUND);
    CHECK (out == NULL);

    /* Another thread has its own client (freed when the thread ends). */
    Kaiin__Status status = KAIIN__STATUS__INTERNAL;
    pthread_t caller;
    pthread_create (&caller, NULL, s_call_from_thread, &status);
    pthread_join (caller, NULL);
    CHECK (status == KAIIN__STATUS__OK);
    CHECK (atomic_load (&s_seen) == 4);

    s_worker_stop = 1;
    pthread_join (peer, NULL);
    mdp_client_t *client = pthread_getspecific (s_client_key);
    mdp_client_destroy (&client);
    pthread_setspecific (s_client_key, NULL);
    mdp_broker_destroy (&broker);
    mdp_worker_shutdown ();
    return check_report ("svc");
}
