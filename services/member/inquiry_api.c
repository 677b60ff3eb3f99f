/* inquiry_api.c - the support-inquiry methods (問い合わせ履歴): validate, call the store, reply */
#include "inquiry_api.h"
#include "clock.h"
#include "inquiry_store.h"
#include "member_api.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBJECT_MAX_CHARS   200
#define BODY_MAX_CHARS      10000
#define QUERY_MAX_CHARS     200
#define LIST_DEFAULT        20
#define LIST_MAX            100

static const char *const s_statuses [] = { "open", "pending", "resolved", NULL };
static const char *const s_channels [] = { "email", "phone", "web_form", "chat", "in_person", "other", NULL };
static const char *const s_categories [] = { "billing", "account", "content", "technical",
                                             "cancellation", "other", NULL };
static const char *const s_writers [] = { "owner", "admin", "support", NULL };

static bool
s_one_of (const char *value, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp (value, *allowed) == 0)
            return true;
    return false;
}

/* Checks value is one of allowed; an empty value is an error only when required. */
static void
s_check_enum (svc_reply_t *reply, const char *field, const char *value, const char *const *allowed,
              bool required)
{
    if (!*value && !required)
        return;
    if (s_one_of (value, allowed))
        return;
    char list [160] = "";
    for (size_t used = 0; *allowed; allowed++, used = strlen (list))
        snprintf (list + used, sizeof list - used, "%s%s", used? ", ": "", *allowed);
    svc_field_error (reply, field, "must be one of %s", list);
}

/* Counts the code points of UTF-8 text; -1 when it is not UTF-8 or holds control characters
   (tabs and line breaks allowed when multiline). */
static long
s_text_length (const char *text, bool multiline)
{
    const unsigned char *s = (const unsigned char *) text;
    long count = 0;
    while (*s) {
        int extra = s [0] < 0x80? 0: (s [0] & 0xE0) == 0xC0? 1: (s [0] & 0xF0) == 0xE0? 2
                  : (s [0] & 0xF8) == 0xF0? 3: -1;
        if (extra < 0)
            return -1;
        for (int i = 1; i <= extra; i++)
            if ((s [i] & 0xC0) != 0x80)
                return -1;
        if (extra == 0 && (s [0] < 0x20 || s [0] == 0x7F)
        &&  !(multiline && (s [0] == '\n' || s [0] == '\r' || s [0] == '\t')))
            return -1;
        s += extra + 1;
        count++;
    }
    return count;
}

static void
s_check_text (svc_reply_t *reply, const char *field, const char *value, long max_chars,
              bool multiline)
{
    long length = s_text_length (value, multiline);
    if (length < 0)
        svc_field_error (reply, field, "must be UTF-8 text without control characters");
    else
    if (length == 0 || length > max_chars)
        svc_field_error (reply, field, "must be 1 to %ld characters", max_chars);
}

static void
s_check_assignee (svc_reply_t *reply, const char *assignee_id)
{
    if (*assignee_id && !member_api_valid_uuid (assignee_id))
        svc_field_error (reply, "assignee_id", "must be the id of an enabled staff account");
}

/* Writes are for the roles that answer inquiries; the gateway checks the same per route. */
static int
s_check_writer (svc_request_t *request, svc_reply_t *reply)
{
    if (s_one_of (request->envelope->caller_role, s_writers))
        return 0;
    return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "the role '%s' may not write inquiries",
                     request->envelope->caller_role);
}

static int64_t
s_now (svc_request_t *request)
{
    return request->envelope->now_ms? request->envelope->now_ms: clock_now_ms ();
}

/* Turns a store outcome other than OK into the reply. Returns -1. */
static int
s_fail (svc_request_t *request, svc_reply_t *reply, inquiry_store_rc_t rc, const char *missing)
{
    switch (rc) {
        case INQUIRY_STORE_NOT_FOUND:
            return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such %s", missing);
        case INQUIRY_STORE_BAD_ASSIGNEE:
            svc_field_error (reply, "assignee_id", "must be the id of an enabled staff account");
            return -1;
        case INQUIRY_STORE_STALE:
            return svc_fail (reply, KAIIN__STATUS__ABORTED,
                             "the inquiry changed since the version given in If-Match");
        case INQUIRY_STORE_NOT_OPEN:
            return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                             "only an open inquiry moves to pending with a reply; this one is resolved");
        default:
            return svc_db_fail (reply, request->db);
    }
}

/* Replies with inquiry (then cleared) on OK, else the failure. */
static int
s_answer (svc_request_t *request, svc_reply_t *reply, inquiry_store_rc_t rc,
          Kaiin__Inquiry__Inquiry *inquiry, const char *missing)
{
    if (rc != INQUIRY_STORE_OK)
        return s_fail (request, reply, rc, missing);
    svc_reply_with (reply, &inquiry->base);
    inquiry_store_clear (inquiry);
    return 0;
}

int
inquiry_api_open (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Inquiry__OpenRequest *open = (Kaiin__Inquiry__OpenRequest *)
        svc_unpack (request, &kaiin__inquiry__open_request__descriptor, reply);
    if (!open)
        return -1;
    int rc = -1;
    if (s_check_writer (request, reply) == 0) {
        s_check_text (reply, "subject", open->subject, SUBJECT_MAX_CHARS, false);
        s_check_text (reply, "body", open->body, BODY_MAX_CHARS, true);
        s_check_enum (reply, "channel", open->channel, s_channels, true);
        s_check_enum (reply, "category", open->category, s_categories, true);
        s_check_assignee (reply, open->assignee_id);
    }
    if (reply->status != KAIIN__STATUS__OK)
        ;
    else
    if (!member_api_valid_uuid (open->member_id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    else {
        Kaiin__Inquiry__Inquiry inquiry;
        audit_actor_t actor = audit_actor_of (request, s_now (request));
        rc = s_answer (request, reply, inquiry_store_open (request->db, open, &actor, &inquiry),
                       &inquiry, "member");
    }
    protobuf_c_message_free_unpacked (&open->base, NULL);
    return rc;
}

int
inquiry_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Inquiry__GetRequest *get = (Kaiin__Inquiry__GetRequest *)
        svc_unpack (request, &kaiin__inquiry__get_request__descriptor, reply);
    if (!get)
        return -1;
    int rc;
    Kaiin__Inquiry__Inquiry inquiry;
    if (!member_api_valid_uuid (get->id))
        rc = svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such inquiry");
    else
        rc = s_answer (request, reply, inquiry_store_get (request->db, get->id, &inquiry),
                       &inquiry, "inquiry");
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}

/* Cursors are "i" and the last position in hex: opaque to clients, checked strictly here.
   Returns 0 (*before_seq 0 for the first page) or -1. */
static int
s_cursor_decode (const char *cursor, int64_t *before_seq)
{
    *before_seq = 0;
    if (!*cursor)
        return 0;
    size_t length = strlen (cursor);
    if (cursor [0] != 'i' || length < 2 || length > 16
    ||  strspn (cursor + 1, "0123456789abcdef") != length - 1)
        return -1;
    *before_seq = (int64_t) strtoull (cursor + 1, NULL, 16);
    return *before_seq > 0? 0: -1;
}

/* An empty filter matches everything: NULL for the store. */
static const char *
s_filter (const char *value)
{
    return *value? value: NULL;
}

int
inquiry_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Inquiry__ListRequest *list = (Kaiin__Inquiry__ListRequest *)
        svc_unpack (request, &kaiin__inquiry__list_request__descriptor, reply);
    if (!list)
        return -1;
    int64_t before_seq;
    int limit = list->limit? list->limit: LIST_DEFAULT;
    if (limit < 1 || limit > LIST_MAX)
        svc_field_error (reply, "limit", "must be from 1 to %d", LIST_MAX);
    if (s_cursor_decode (list->cursor, &before_seq) == -1)
        svc_field_error (reply, "cursor", "is not a cursor this API returned");
    s_check_enum (reply, "status", list->status, s_statuses, false);
    s_check_enum (reply, "category", list->category, s_categories, false);
    s_check_enum (reply, "channel", list->channel, s_channels, false);
    if (*list->assignee_id && !member_api_valid_uuid (list->assignee_id))
        svc_field_error (reply, "assignee_id", "must be a staff id");
    if (*list->q) {
        long length = s_text_length (list->q, false);
        if (length < 0 || length > QUERY_MAX_CHARS)
            svc_field_error (reply, "q", "must be 1 to %d characters of text", QUERY_MAX_CHARS);
    }
    int rc = -1;
    inquiry_store_rc_t found = INQUIRY_STORE_OK;
    if (reply->status != KAIIN__STATUS__OK)
        ;
    else
    if (*list->member_id && (!member_api_valid_uuid (list->member_id)
                         || (found = inquiry_store_member_exists (request->db, list->member_id))
                            != INQUIRY_STORE_OK))
        s_fail (request, reply, found == INQUIRY_STORE_ERROR? found: INQUIRY_STORE_NOT_FOUND, "member");
    else {
        inquiry_filter_t filter = { s_filter (list->member_id), s_filter (list->status),
                                    s_filter (list->assignee_id), s_filter (list->category),
                                    s_filter (list->channel), s_filter (list->q) };
        Kaiin__Inquiry__ListReply page = KAIIN__INQUIRY__LIST_REPLY__INIT;
        int64_t last_seq;
        int more;
        char cursor [24] = "";
        found = inquiry_store_list (request->db, &filter, before_seq, limit, &page, &last_seq, &more);
        if (found == INQUIRY_STORE_OK) {
            if (more)
                snprintf (cursor, sizeof cursor, "i%llx", (unsigned long long) last_seq);
            page.next_cursor = cursor;
            rc = svc_reply_with (reply, &page.base);
            inquiry_store_clear_list (&page);
        }
        else
            s_fail (request, reply, found, "inquiry");
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

int
inquiry_api_reply (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Inquiry__ReplyRequest *answer = (Kaiin__Inquiry__ReplyRequest *)
        svc_unpack (request, &kaiin__inquiry__reply_request__descriptor, reply);
    if (!answer)
        return -1;
    int rc = -1;
    const char *author_type = *answer->author_type? answer->author_type: "staff";
    if (s_check_writer (request, reply) == 0) {
        s_check_text (reply, "body", answer->body, BODY_MAX_CHARS, true);
        static const char *const authors [] = { "staff", "member", NULL };
        s_check_enum (reply, "author_type", author_type, authors, true);
        if (*answer->status && strcmp (answer->status, "pending") != 0)
            svc_field_error (reply, "status", "a reply can only move an inquiry to pending");
        else
        if (*answer->status && strcmp (author_type, "staff") != 0)
            svc_field_error (reply, "status", "only a staff reply moves an inquiry to pending");
    }
    if (reply->status != KAIIN__STATUS__OK)
        ;
    else
    if (!member_api_valid_uuid (answer->inquiry_id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such inquiry");
    else {
        Kaiin__Inquiry__Message message;
        Kaiin__Inquiry__Inquiry inquiry;
        audit_actor_t actor = audit_actor_of (request, s_now (request));
        const char *author_id = strcmp (author_type, "staff") == 0? request->envelope->caller_id: NULL;
        inquiry_store_rc_t done = inquiry_store_reply (request->db, answer, author_type, author_id,
                                                       &actor, &message, &inquiry);
        if (done != INQUIRY_STORE_OK)
            s_fail (request, reply, done, "inquiry");
        else {
            Kaiin__Inquiry__ReplyReply result = KAIIN__INQUIRY__REPLY_REPLY__INIT;
            result.message = &message;
            result.inquiry = &inquiry;
            rc = svc_reply_with (reply, &result.base);
            inquiry_store_clear_message (&message);
            inquiry_store_clear (&inquiry);
        }
    }
    protobuf_c_message_free_unpacked (&answer->base, NULL);
    return rc;
}

int
inquiry_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Inquiry__UpdateRequest *update = (Kaiin__Inquiry__UpdateRequest *)
        svc_unpack (request, &kaiin__inquiry__update_request__descriptor, reply);
    if (!update)
        return -1;
    int rc = -1;
    if (s_check_writer (request, reply) == 0) {
        static const char *const fields [] = { "status", "assignee_id", "category", "channel", NULL };
        for (size_t i = 0; i < update->n_update_mask; i++)
            if (!s_one_of (update->update_mask [i], fields))
                svc_field_error (reply, update->update_mask [i], "is not a field that can be changed");
        if (SVC_MASKED (update, "status"))
            s_check_enum (reply, "status", update->status, s_statuses, true);
        if (SVC_MASKED (update, "category"))
            s_check_enum (reply, "category", update->category, s_categories, true);
        if (SVC_MASKED (update, "channel"))
            s_check_enum (reply, "channel", update->channel, s_channels, true);
        if (SVC_MASKED (update, "assignee_id"))
            s_check_assignee (reply, update->assignee_id);
    }
    if (reply->status != KAIIN__STATUS__OK)
        ;
    else
    if (!member_api_valid_uuid (update->id))
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such inquiry");
    else {
        Kaiin__Inquiry__Inquiry inquiry;
        audit_actor_t actor = audit_actor_of (request, s_now (request));
        rc = s_answer (request, reply, inquiry_store_update (request->db, update, &actor, &inquiry),
                       &inquiry, "inquiry");
    }
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}
