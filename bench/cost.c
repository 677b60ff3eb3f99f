/* cost.c - kaiin-bench-cost: what trust costs a read, in microseconds (issue 16).
     kaiin-bench-cost [rounds]
   CURVE: request/reply round trips between a DEALER and a ROUTER over ipc, the shape of the
   broker and a worker, with a member.Get's sizes (a 120-byte request, a 700-byte reply), in
   clear and under CurveZMQ; the difference is what CURVE adds to a request.
   Fields: a member's data key unwrapped by the master key and its four sealed fields opened
   (phone, birthday, address, note), which member_record_of_row does for every member read.
   Both in CPU time (the process's, its I/O threads included): what a read pays in CPU.
   Prints one line "COST key=value ..." for bench/run.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include "member_crypt.h"

/* The time in microseconds: CPU time of the whole process (its ZeroMQ I/O threads included),
   which another program's load barely changes, unlike the time a round trip waits. */
static double
s_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &now);
    return now.tv_sec * 1e6 + now.tv_nsec / 1e3;
}

/* The CPU time of a round trip, its mean in microseconds, or -1 when a socket call fails. */
static double
s_round_trips (void *context, const char *endpoint, int curve, int rounds)
{
    void *router = zmq_socket (context, ZMQ_ROUTER);
    void *dealer = zmq_socket (context, ZMQ_DEALER);
    char server_public [41], server_secret [41], client_public [41], client_secret [41];
    int on = 1, linger = 0;
    zmq_setsockopt (router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
    if (curve) {
        zmq_curve_keypair (server_public, server_secret);
        zmq_curve_keypair (client_public, client_secret);
        zmq_setsockopt (router, ZMQ_CURVE_SERVER, &on, sizeof on);
        zmq_setsockopt (router, ZMQ_CURVE_SECRETKEY, server_secret, 40);
        zmq_setsockopt (dealer, ZMQ_CURVE_SERVERKEY, server_public, 40);
        zmq_setsockopt (dealer, ZMQ_CURVE_PUBLICKEY, client_public, 40);
        zmq_setsockopt (dealer, ZMQ_CURVE_SECRETKEY, client_secret, 40);
    }
    double mean = -1;
    char request [120], reply [700], identity [256], buffer [1024];
    memset (request, 'q', sizeof request);
    memset (reply, 'r', sizeof reply);
    if (zmq_bind (router, endpoint) != 0 || zmq_connect (dealer, endpoint) != 0)
        goto done;
    double start = 0;
    for (int i = -rounds / 10; i < rounds; i++) {       /* a tenth first, for the handshake */
        if (i == 0)
            start = s_now_us ();
        if (zmq_send (dealer, request, sizeof request, 0) != sizeof request)
            goto done;
        int size = zmq_recv (router, identity, sizeof identity, 0);
        if (size <= 0 || zmq_recv (router, buffer, sizeof buffer, 0) != sizeof request)
            goto done;
        if (zmq_send (router, identity, size, ZMQ_SNDMORE) != size
            || zmq_send (router, reply, sizeof reply, 0) != sizeof reply
            || zmq_recv (dealer, buffer, sizeof buffer, 0) != sizeof reply)
            goto done;
    }
    mean = (s_now_us () - start) / rounds;
done:
    zmq_close (dealer);
    zmq_close (router);
    return mean;
}

/* The CPU time to unwrap a member's key and open its four fields, its mean in microseconds. */
static double
s_field_opens (int rounds)
{
    const char *id = "0d3c6a43-3e0c-4c8e-9a53-6b1f2a8e4d71";
    member_key_t key, opened;
    char *wrapped = member_crypt_key_new (id, &key);
    if (!wrapped)
        return -1;
    char *sealed [4] = {
        member_crypt_seal (&key, id, "090-1234-5678"),
        member_crypt_seal (&key, id, "1990-01-02"),
        member_crypt_seal (&key, id, "渋谷区神南1-2-3 ケイインビル4階"),
        member_crypt_seal (&key, id, "平日の夜に来館。紹介キャンペーンの対象。"),
    };
    double mean = -1;
    for (int f = 0; f < 4; f++)
        if (!sealed [f])
            goto done;
    double start = s_now_us ();
    for (int i = 0; i < rounds; i++) {
        Kaiin__Member__Member member = KAIIN__MEMBER__MEMBER__INIT;
        member.id = (char *) id;                /* the fields as a row gives them: copies */
        member.phone = strdup (sealed [0]);
        member.birthday = strdup (sealed [1]);
        member.address = strdup (sealed [2]);
        member.note = strdup (sealed [3]);
        int ok = member_crypt_key_open (id, wrapped, &opened) == 0;
        if (ok)
            member_crypt_open_member (&member, &opened);    /* frees each copy it opens */
        ok = ok && strcmp (member.phone, "090-1234-5678") == 0;
        free (member.phone);
        free (member.birthday);
        free (member.address);
        free (member.note);
        if (!ok)
            goto done;
    }
    mean = (s_now_us () - start) / rounds;
done:
    for (int f = 0; f < 4; f++)
        free (sealed [f]);
    free (wrapped);
    return mean;
}

int
main (int argc, char **argv)
{
    int rounds = argc > 1? atoi (argv [1]): 20000;
    if (rounds < 100 || rounds > 10000000)
        rounds = 20000;
    if (!getenv ("MEMBER_MASTER_KEY") && !getenv ("MEMBER_MASTER_KEY_FILE"))
        setenv ("MEMBER_MASTER_KEY", "6b6169696e2d62656e63682d636f73742d6b6169696e2d62656e63682d636f73", 1);
    member_crypt_configure ();
    char endpoint [96];
    snprintf (endpoint, sizeof endpoint, "ipc:///tmp/kaiin-bench-cost-%d.ipc", (int) getpid ());
    void *context = zmq_ctx_new ();
    double plain = s_round_trips (context, endpoint, 0, rounds);
    double curve = s_round_trips (context, endpoint, 1, rounds);
    zmq_ctx_term (context);
    remove (endpoint + strlen ("ipc://"));
    double fields = s_field_opens (rounds);
    if (plain < 0 || curve < 0 || fields < 0) {
        fprintf (stderr, "kaiin-bench-cost: a measurement failed (plain %.1f, curve %.1f, fields %.1f)\n",
                 plain, curve, fields);
        return 1;
    }
    printf ("COST rounds=%d plain_us=%.2f curve_us=%.2f fields_us=%.2f\n", rounds, plain, curve,
            fields);
    return 0;
}
