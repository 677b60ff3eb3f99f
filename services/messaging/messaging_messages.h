/* messaging_messages.h - the messaging service's sentences in Japanese (svc_def_t.messages) */
#ifndef KAIIN_MESSAGING_MESSAGES_H
#define KAIIN_MESSAGING_MESSAGES_H
#include "messages.h"

extern const messages_entry_t messaging_messages [];

#endif
