/* health.h - background checks of PostgreSQL and Redis, so /readyz answers without waiting */
#ifndef KAIIN_HEALTH_H
#define KAIIN_HEALTH_H
#include <stdbool.h>

/* Starts a thread that checks both every half second. */
void health_start (const char *pg_url);
void health_stop (void);

/* Copies the latest verdict on each into buf ("ok" or what is wrong); true when ok. */
bool health_postgresql (char *buf, int size);
bool health_redis (char *buf, int size);

#endif
