/* member_ref.h - what billing asks the member service: does the member exist, their rank,
   the name an invoice is addressed to */
#ifndef KAIIN_BILLING_MEMBER_REF_H
#define KAIIN_BILLING_MEMBER_REF_H
#include "svc.h"

/* Looks the member up through the broker. 0 with rank and status filled, or -1 with the
   reply's error set: a field error on field when there is no such member (or, when
   must_be_active, a withdrawn one), or 404 when field is NULL (the member is the one the
   path names), 503 when the member service does not answer. */
int member_ref_lookup (svc_reply_t *reply, const char *member_id, const char *field,
                       bool must_be_active, char rank [33], char status [16]);

/* The name an invoice of the member is addressed to, into name (size bytes): their name, or
   their email when they gave none; "" when the member service knows no such member (erased).
   0, or -1 with 503 set on reply when the member service does not answer. */
int member_ref_name (svc_reply_t *reply, const char *member_id, char *name, size_t size);

/* The member's reading (フリガナ) as they gave it, into kana; "" when none or no such member.
   0, or -1 with 503 set on reply when the member service does not answer. */
int member_ref_kana (svc_reply_t *reply, const char *member_id, char *kana, size_t size);

/* The members the member service's search finds for q (over names and readings, spaces and
   kana kinds ignored), at most max: their ids and readings into ids and readings (new strings
   the caller frees). The count, or -1 with 503 set on reply when it does not answer. */
int member_ref_search (svc_reply_t *reply, const char *q, int max, char **ids, char **readings);

#endif
