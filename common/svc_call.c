/* svc_call.c - calling another service through the broker from any service thread, each
   thread with its own broker client */
#include "svc_internal.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "mdp.h"
#include "mdp_client.h"
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* The running service, named as every call's caller (set once by svc_main through
   svc_call_set_service, before any thread starts). */
static const svc_def_t *s_def;

/* The request this thread is serving, if any: svc_call carries its id and now. */
static _Thread_local const Kaiin__Request *s_current;

/* Each thread's own broker client for svc_call, freed when the thread ends. */
static pthread_key_t s_client_key;
static pthread_once_t s_client_once = PTHREAD_ONCE_INIT;

void
svc_call_set_service (const svc_def_t *def)
{
    s_def = def;
}

void
svc_call_set_current (const Kaiin__Request *request)
{
    s_current = request;
}

const Kaiin__Request *
svc_call_current (void)
{
    return s_current;
}

static void
s_client_free (void *client)
{
    mdp_client_destroy ((mdp_client_t **) &client);
}

static void
s_client_key_new (void)
{
    pthread_key_create (&s_client_key, s_client_free);
}

/* This thread's broker client, made on first use. */
static mdp_client_t *
s_client (void)
{
    pthread_once (&s_client_once, s_client_key_new);
    mdp_client_t *client = pthread_getspecific (s_client_key);
    if (!client) {
        client = mdp_client_new (config_str ("KAIIN_BROKER_ENDPOINT", "tcp://127.0.0.1:5555"));
        pthread_setspecific (s_client_key, client);
    }
    return client;
}

Kaiin__Status
svc_call (const char *method, const ProtobufCMessage *in,
          const ProtobufCMessageDescriptor *out_descriptor, ProtobufCMessage **out,
          int timeout_ms)
{
    *out = NULL;
    size_t service_length = strcspn (method, ".");
    if (service_length == 0 || strlen (method) >= MDP_NAME_MAX || !method [service_length]) {
        log_error ("svc_call: '%s' is not a '<service>.<Method>'", method);
        return KAIIN__STATUS__INVALID_ARGUMENT;
    }

    char caller [96], request_id [40];
    snprintf (caller, sizeof caller, "service:%s", s_def? s_def->name: "unknown");
    Kaiin__Request envelope = KAIIN__REQUEST__INIT;
    envelope.method = (char *) method;
    envelope.caller_id = caller;
    envelope.caller_role = "service";
    if (s_current && *s_current->request_id) {
        envelope.request_id = s_current->request_id;
        envelope.now_ms = s_current->now_ms? s_current->now_ms: clock_now_ms ();
    }
    else {
        unsigned char random [16];
        if (getrandom (random, sizeof random, 0) != (ssize_t) sizeof random)
            for (size_t i = 0; i < sizeof random; i++)
                random [i] = (unsigned char) (clock_mono_us () >> (i % 8));
        for (size_t i = 0; i < sizeof random; i++)
            snprintf (request_id + 2 * i, 3, "%02x", random [i]);
        envelope.request_id = request_id;
        envelope.now_ms = s_current && s_current->now_ms? s_current->now_ms: clock_now_ms ();
    }
    /* No deadline_ms: the broker enforces timeout_ms, and another process's test clock may
       stand elsewhere for a moment. */
    size_t payload_size = protobuf_c_message_get_packed_size (in);
    envelope.payload.data = malloc (payload_size + 1);
    assert (envelope.payload.data);
    protobuf_c_message_pack (in, envelope.payload.data);
    envelope.payload.len = payload_size;
    size_t packed_size = kaiin__request__get_packed_size (&envelope);
    uint8_t *packed = malloc (packed_size + 1);
    assert (packed);
    kaiin__request__pack (&envelope, packed);
    free (envelope.payload.data);

    void *data;
    size_t size;
    mdp_status_t delivered = mdp_client_call (s_client (), method, packed, packed_size,
                                              timeout_ms, &data, &size);
    free (packed);
    if (delivered != MDP_OK)
        return delivered == MDP_TIMEOUT? KAIIN__STATUS__DEADLINE_EXCEEDED: KAIIN__STATUS__UNAVAILABLE;
    Kaiin__Reply *reply = kaiin__reply__unpack (NULL, size, data);
    free (data);
    if (!reply) {
        log_error ("'%s' sent a reply that cannot be read", method);
        return KAIIN__STATUS__INTERNAL;
    }
    Kaiin__Status status = reply->status;
    if (status == KAIIN__STATUS__OK) {
        *out = protobuf_c_message_unpack (out_descriptor, NULL, reply->payload.len, reply->payload.data);
        if (!*out) {
            log_error ("'%s' sent a '%s' that cannot be read", method, out_descriptor->name);
            status = KAIIN__STATUS__INTERNAL;
        }
    }
    else
        log_debug ("'%s' answered status %d: %s", method, (int) status, reply->message);
    kaiin__reply__free_unpacked (reply, NULL);
    return status;
}
