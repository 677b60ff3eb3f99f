/* inquiry_list.h - finding inquiries: by member, status, assignee, category and channel, by
   text in their subjects and messages; newest first, a page with its threads */
#ifndef KAIIN_INQUIRY_LIST_H
#define KAIIN_INQUIRY_LIST_H
#include "member.h"

void inquiry_list_prepare (pg_t *db);

/* member.InquiryList: every role may read. */
svc_handler_fn inquiry_api_list;

#endif
