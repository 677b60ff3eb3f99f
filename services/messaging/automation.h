/* automation.h - automations: a trigger (an event of a source, "the member's nth") and the
   scenario it starts, kept in versions */
#ifndef KAIIN_MESSAGING_AUTOMATION_H
#define KAIIN_MESSAGING_AUTOMATION_H
#include "messaging.h"

void automation_prepare (pg_t *db);

svc_handler_fn automation_api_create, automation_api_get, automation_api_list, automation_api_update,
               automation_api_runs;

#endif
