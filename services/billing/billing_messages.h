/* billing_messages.h - the billing service's sentences in Japanese (svc_def_t.messages) */
#ifndef KAIIN_BILLING_MESSAGES_H
#define KAIIN_BILLING_MESSAGES_H
#include "messages.h"

extern const messages_entry_t billing_messages [];

#endif
