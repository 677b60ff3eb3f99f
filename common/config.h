/* config.h - settings from the environment; a missing required one stops start-up */
#ifndef KAIIN_CONFIG_H
#define KAIIN_CONFIG_H

/* Returns the variable's value (borrowed), or fallback when unset or empty. With a NULL
   fallback the variable is required: start-up stops with an error naming it. */
const char *config_str (const char *name, const char *fallback);

/* Returns the variable as an integer in [min, max], or fallback when unset. A value that is
   not a number or is out of range stops start-up with an error naming the variable. */
long config_int (const char *name, long fallback, long min, long max);

/* Reads a secret: the variable NAME, or else the first line of the file named by NAME_FILE
   (the Docker secrets convention). Returns a new string the caller frees; exits when required
   (fallback NULL) and neither is set. */
char *config_secret (const char *name, const char *fallback);

/* Splits list ("member, billing analytics": commas or white space) into names, in order,
   each once; a name of 32 bytes or more is skipped. Returns how many, at most max. */
int config_names (const char *list, char (*names) [32], int max);

#endif
