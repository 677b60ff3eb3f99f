/* analytics_messages.h - the analytics service's sentences in Japanese (svc_def_t.messages) */
#ifndef KAIIN_ANALYTICS_MESSAGES_H
#define KAIIN_ANALYTICS_MESSAGES_H
#include "messages.h"

extern const messages_entry_t analytics_messages [];

#endif
