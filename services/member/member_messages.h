/* member_messages.h - the member service's sentences in Japanese (svc_def_t.messages) */
#ifndef KAIIN_MEMBER_MESSAGES_H
#define KAIIN_MEMBER_MESSAGES_H
#include "messages.h"

extern const messages_entry_t member_messages [];

#endif
