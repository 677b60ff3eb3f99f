/* curve.c - CurveZMQ on broker connections: keys from the settings, and the ZAP handler that
   admits only the keys on the broker's list (RFC 27, ZeroMQ Authentication Protocol) */
#include "curve.h"
#include "config.h"
#include "log.h"
#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#define KEY_LENGTH 40                   /* Z85 of 32 bytes */
#define CLIENTS_MAX 256

static bool s_client_on;
static char s_secret [KEY_LENGTH + 1], s_public [KEY_LENGTH + 1], s_broker [KEY_LENGTH + 1];

/* True when text is a Z85 key: 40 characters that decode. */
static bool
s_is_key (const char *text)
{
    uint8_t bytes [32];
    return strlen (text) == KEY_LENGTH && zmq_z85_decode (bytes, text) != NULL;
}

/* Reads the secret key of setting (or its _FILE) into secret, and derives public. Returns 1,
   0 when it is not set, -1 (logged) when it is not a key or its file is open to others. */
static int
s_secret_read (const char *setting, char secret [KEY_LENGTH + 1], char public [KEY_LENGTH + 1])
{
    char name [96];
    snprintf (name, sizeof name, "%s_FILE", setting);
    const char *path = config_str (name, "");
    struct stat info;
    if (*path && stat (path, &info) == 0 && (info.st_mode & 077))
        return log_error ("%s: '%s' may be read by others; it must be its owner's alone (chmod 600)", name, path);
    char *text = config_secret (setting, "");
    int rc = *text? 1: 0;
    if (rc && !s_is_key (text))
        rc = log_error ("%s is not a CURVE secret key (40 characters of Z85)", setting);
    if (rc == 1) {
        snprintf (secret, KEY_LENGTH + 1, "%s", text);
        if (zmq_curve_public (public, secret) != 0)
            rc = log_error ("%s: cannot derive its public key (libzmq without CURVE?)", setting);
    }
    memset (text, 0, strlen (text));
    free (text);
    return rc;
}

int
curve_client_init (void)
{
    int found = s_secret_read ("KAIIN_CURVE_SECRET_KEY", s_secret, s_public);
    if (found == -1)
        return -1;
    /* Not a secret, but compose hands it over as a file as it does the keys (_FILE). */
    char *broker = config_secret ("KAIIN_BROKER_PUBLIC_KEY", "");
    int rc = 0;
    if (found == 0 && !*broker)
        log_warn ("no KAIIN_CURVE_SECRET_KEY: connections to the broker are neither encrypted nor authenticated");
    else
    if (found == 0)
        rc = log_error ("KAIIN_BROKER_PUBLIC_KEY is set but not KAIIN_CURVE_SECRET_KEY (or its _FILE)");
    else
    if (!s_is_key (broker))
        rc = log_error ("KAIIN_BROKER_PUBLIC_KEY is not a CURVE public key (40 characters of Z85)");
    else {
        snprintf (s_broker, sizeof s_broker, "%s", broker);
        s_client_on = true;
    }
    free (broker);
    return rc;
}

void
curve_client_apply (void *socket)
{
    if (!s_client_on)
        return;
    zmq_setsockopt (socket, ZMQ_CURVE_SERVERKEY, s_broker, KEY_LENGTH);
    zmq_setsockopt (socket, ZMQ_CURVE_PUBLICKEY, s_public, KEY_LENGTH);
    zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, s_secret, KEY_LENGTH);
}

bool
curve_may_serve (const char *user, const char *service)
{
    size_t length = strlen (user);
    return length && strncmp (service, user, length) == 0 && (service [length] == 0 || service [length] == '.');
}

/* ------------------------------------------------------------------ the broker's side */

typedef struct {
    char service [32];
    uint8_t key [32];
} s_client_t;

struct _curve_server_t {
    void *zap;                          /* REP on inproc://zeromq.zap.01 */
    pthread_t thread;
    volatile bool stopping;
    char *clients_path;
    struct timespec clients_mtime;
    off_t clients_size;
    s_client_t clients [CLIENTS_MAX];
    int count;
};

/* Rereads the clients file when it changed since the last reading. */
static void
s_clients_load (curve_server_t *self)
{
    struct stat info;
    if (stat (self->clients_path, &info) != 0) {
        if (self->count)
            log_warn ("the broker's clients file '%s' is gone: no connection is admitted", self->clients_path);
        self->count = 0;
        return;
    }
    if (info.st_mtim.tv_sec == self->clients_mtime.tv_sec && info.st_mtim.tv_nsec == self->clients_mtime.tv_nsec
    &&  info.st_size == self->clients_size)
        return;
    FILE *file = fopen (self->clients_path, "r");
    if (!file)
        return;
    self->clients_mtime = info.st_mtim;
    self->clients_size = info.st_size;
    self->count = 0;
    char line [256];
    int number = 0;
    while (fgets (line, sizeof line, file)) {
        number++;
        char service [32], key [64];
        int fields = sscanf (line, "%31s %63s", service, key);
        if (fields <= 0 || service [0] == '#')          /* Z85 has '#': comments are whole lines */
            continue;
        if (fields != 2 || !s_is_key (key) || self->count == CLIENTS_MAX) {
            log_warn ("%s, line %d: not \"<service> <public key>\" (or too many keys); skipped",
                      self->clients_path, number);
            continue;
        }
        snprintf (self->clients [self->count].service, sizeof self->clients [0].service, "%s", service);
        zmq_z85_decode (self->clients [self->count].key, key);
        self->count++;
    }
    fclose (file);
    log_info ("the broker admits %d service key(s) from '%s'", self->count, self->clients_path);
}

static const char *
s_client_find (curve_server_t *self, const void *key, size_t size)
{
    for (int i = 0; i < self->count; i++)
        if (size == 32 && memcmp (self->clients [i].key, key, 32) == 0)
            return self->clients [i].service;
    return NULL;
}

/* Answers one ZAP request: version, request id, domain, address, routing id, mechanism and
   its credentials in; version, request id, status code and text, user id, metadata out. */
static void
s_zap_answer (curve_server_t *self)
{
    zmq_msg_t frames [8];
    int count = 0;
    for (bool more = true; more && count < 8; count++) {
        zmq_msg_init (&frames [count]);
        if (zmq_msg_recv (&frames [count], self->zap, 0) == -1) {
            zmq_msg_close (&frames [count]);
            break;
        }
        more = zmq_msg_more (&frames [count]);
    }
    if (count < 7)
        log_warn ("a malformed ZAP request (%d frames)", count);
    else {
        s_clients_load (self);
        char mechanism [16], address [64];
        snprintf (mechanism, sizeof mechanism, "%.*s", (int) zmq_msg_size (&frames [5]), (char *) zmq_msg_data (&frames [5]));
        snprintf (address, sizeof address, "%.*s", (int) zmq_msg_size (&frames [3]), (char *) zmq_msg_data (&frames [3]));
        const char *service = strcmp (mechanism, "CURVE") == 0
                            ? s_client_find (self, zmq_msg_data (&frames [6]), zmq_msg_size (&frames [6])): NULL;
        if (!service) {
            char key [KEY_LENGTH + 1] = "?";
            if (zmq_msg_size (&frames [6]) == 32)
                zmq_z85_encode (key, zmq_msg_data (&frames [6]), 32);
            log_warn ("the broker refused a connection from '%s': its key %s is on no service's list",
                      address, key);
        }
        zmq_send (self->zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send (self->zap, zmq_msg_data (&frames [1]), zmq_msg_size (&frames [1]), ZMQ_SNDMORE);
        zmq_send (self->zap, service? "200": "400", 3, ZMQ_SNDMORE);
        zmq_send (self->zap, service? "OK": "unknown key", service? 2: 11, ZMQ_SNDMORE);
        zmq_send (self->zap, service? service: "", service? strlen (service): 0, ZMQ_SNDMORE);
        zmq_send (self->zap, "", 0, 0);
    }
    for (int i = 0; i < count; i++)
        zmq_msg_close (&frames [i]);
}

static void *
s_zap_thread (void *arg)
{
    curve_server_t *self = arg;
    while (!self->stopping) {
        zmq_pollitem_t item = { self->zap, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 100) > 0)
            s_zap_answer (self);
    }
    return NULL;
}

int
curve_server_start (void *context, void *socket, curve_server_t **server)
{
    *server = NULL;
    char secret [KEY_LENGTH + 1], public [KEY_LENGTH + 1];
    int found = s_secret_read ("KAIIN_BROKER_SECRET_KEY", secret, public);
    const char *clients = config_str ("KAIIN_BROKER_CLIENTS_FILE", "");
    if (found == -1)
        return -1;
    if (found == 0 && !*clients) {
        log_warn ("no KAIIN_BROKER_SECRET_KEY: the broker takes plain connections from anyone who can reach it");
        return 0;
    }
    if (found == 0 || !*clients)
        return log_error ("the broker needs both KAIIN_BROKER_SECRET_KEY (or its _FILE) and KAIIN_BROKER_CLIENTS_FILE");
    curve_server_t *self = calloc (1, sizeof *self);
    assert (self);
    self->clients_path = strdup (clients);
    s_clients_load (self);
    self->zap = zmq_socket (context, ZMQ_REP);
    int linger = 0, on = 1;
    zmq_setsockopt (self->zap, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind (self->zap, "inproc://zeromq.zap.01") == -1) {
        zmq_close (self->zap);
        free (self->clients_path);
        free (self);
        return log_error ("cannot start the broker's ZAP handler: %s", zmq_strerror (zmq_errno ()));
    }
    zmq_setsockopt (socket, ZMQ_CURVE_SERVER, &on, sizeof on);
    zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, secret, KEY_LENGTH);
    memset (secret, 0, sizeof secret);
    pthread_create (&self->thread, NULL, s_zap_thread, self);
    log_info ("the broker takes CurveZMQ connections only (its public key %s)", public);
    *server = self;
    return 0;
}

void
curve_server_stop (curve_server_t **server_p)
{
    curve_server_t *self = *server_p;
    if (!self)
        return;
    self->stopping = true;
    pthread_join (self->thread, NULL);
    zmq_close (self->zap);
    free (self->clients_path);
    free (self);
    *server_p = NULL;
}
