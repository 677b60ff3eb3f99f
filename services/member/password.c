/* password.c - password hashing with argon2id at OWASP's parameters, and checking */
#include "password.h"
#include "log.h"
#include <argon2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* OWASP's minimum for argon2id: 19 MiB of memory, 2 passes, 1 lane. */
#define ARGON2_T_COST   2
#define ARGON2_M_COST   19456
#define ARGON2_LANES    1

char *
password_hash (const char *password)
{
    uint8_t salt [16];
    if (getrandom (salt, sizeof salt, 0) != sizeof salt)
        return NULL;
    size_t size = argon2_encodedlen (ARGON2_T_COST, ARGON2_M_COST, ARGON2_LANES, sizeof salt, 32,
                                     Argon2_id);
    char *encoded = malloc (size);
    if (encoded && argon2id_hash_encoded (ARGON2_T_COST, ARGON2_M_COST, ARGON2_LANES, password,
                                          strlen (password), salt, sizeof salt, 32, encoded,
                                          size) != ARGON2_OK) {
        free (encoded);
        encoded = NULL;
    }
    return encoded;
}

/* A hash of a random password nobody knows, made once per process with the same parameters,
   so that an unknown email or a member without a password costs as much as a real check. */
static char *s_decoy;
static pthread_once_t s_decoy_once = PTHREAD_ONCE_INIT;

static void
s_decoy_new (void)
{
    char secret [33];
    uint8_t random [16];
    if (getrandom (random, sizeof random, 0) != sizeof random)
        memset (random, 0x5a, sizeof random);
    for (size_t i = 0; i < sizeof random; i++)
        snprintf (secret + 2 * i, 3, "%02x", random [i]);
    s_decoy = password_hash (secret);
    if (!s_decoy)
        log_error ("cannot make the decoy password hash");
}

bool
password_verify (const char *hash, const char *password)
{
    pthread_once (&s_decoy_once, s_decoy_new);
    if (!hash) {
        if (s_decoy)
            argon2id_verify (s_decoy, password, strlen (password));
        return false;
    }
    return argon2id_verify (hash, password, strlen (password)) == ARGON2_OK;
}
