/* password.h - password hashing with argon2id at OWASP's parameters, and checking */
#ifndef KAIIN_PASSWORD_H
#define KAIIN_PASSWORD_H
#include <stdbool.h>

/* Returns a new argon2id PHC string for password (m=19456 KiB, t=2, p=1, a 16-byte random
   salt), which the caller frees; NULL when it cannot. */
char *password_hash (const char *password);

/* True when password matches hash. With a NULL hash (an unknown account) it checks against a
   decoy hash and returns false, so that the answer takes as long either way. */
bool password_verify (const char *hash, const char *password);

#endif
