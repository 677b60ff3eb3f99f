/* member_api.c - the member methods: validate, call the store, build the reply */
#include "member_api.h"
#include "clock.h"
#include "member_store.h"
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_CHARS    100
#define REASON_MAX_CHARS  500
#define EMAIL_MAX_BYTES   254
#define LIST_MAX          100

/* Decodes the next UTF-8 code point of *text and advances it; -1 on a malformed sequence. */
static long
s_next_code_point (const unsigned char **text)
{
    const unsigned char *s = *text;
    long point;
    int extra;
    if (s [0] < 0x80)               { point = s [0]; extra = 0; }
    else if ((s [0] & 0xE0) == 0xC0) { point = s [0] & 0x1F; extra = 1; }
    else if ((s [0] & 0xF0) == 0xE0) { point = s [0] & 0x0F; extra = 2; }
    else if ((s [0] & 0xF8) == 0xF0) { point = s [0] & 0x07; extra = 3; }
    else return -1;
    for (int i = 1; i <= extra; i++) {
        if ((s [i] & 0xC0) != 0x80)
            return -1;
        point = point << 6 | (s [i] & 0x3F);
    }
    *text = s + extra + 1;
    return point;
}

/* Counts code points; -1 when text is not UTF-8 or holds control characters. */
static long
s_text_length (const char *text)
{
    const unsigned char *cursor = (const unsigned char *) text;
    long count = 0;
    while (*cursor) {
        long point = s_next_code_point (&cursor);
        if (point < 0x20 || point == 0x7F)
            return -1;
        count++;
    }
    return count;
}

/* Full-width katakana, the long vowel mark ー, the middle dot ・, and spaces. */
static bool
s_is_kana (const char *text)
{
    const unsigned char *cursor = (const unsigned char *) text;
    while (*cursor) {
        long point = s_next_code_point (&cursor);
        if (!((point >= 0x30A1 && point <= 0x30FA) || (point >= 0x30FB && point <= 0x30FE)
        ||    point == 0x20 || point == 0x3000))
            return false;
    }
    return true;
}

/* A practical address check: one @, a local part of visible ASCII without specials that mail
   systems reject, a domain of dot-separated labels with a letter-only TLD of two or more. */
static bool
s_is_email (const char *text)
{
    size_t length = strlen (text);
    const char *at = strchr (text, '@');
    if (length > EMAIL_MAX_BYTES || !at || at == text || strchr (at + 1, '@') || at - text > 64)
        return false;
    for (const char *c = text; c < at; c++)
        if (!isalnum ((unsigned char) *c) && !strchr ("!#$%&'*+/=?^_`{|}~.-", *c))
            return false;
    if (text [0] == '.' || at [-1] == '.' || strstr (text, ".."))
        return false;
    const char *label = at + 1, *last_label = NULL;
    int labels = 0;
    while (true) {
        const char *end = label;
        while (*end && *end != '.') {
            if (!isalnum ((unsigned char) *end) && *end != '-')
                return false;
            end++;
        }
        if (end == label || end - label > 63 || *label == '-' || end [-1] == '-')
            return false;
        labels++;
        last_label = label;
        if (!*end)
            break;
        label = end + 1;
    }
    if (labels < 2 || strlen (last_label) < 2)
        return false;
    for (const char *c = last_label; *c; c++)
        if (!isalpha ((unsigned char) *c))
            return false;
    return true;
}

/* Digits with an optional leading +, and hyphens, spaces or parentheses between: 10 to 15 digits. */
static bool
s_is_phone (const char *text)
{
    int digits = 0;
    for (const char *c = text; *c; c++) {
        if (isdigit ((unsigned char) *c))
            digits++;
        else
        if (!(*c == '+' && c == text) && !strchr ("- ()", *c))
            return false;
    }
    return digits >= 10 && digits <= 15;
}

static bool
s_is_uuid (const char *text)
{
    if (strlen (text) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash? text [i] != '-': !isxdigit ((unsigned char) text [i]))
            return false;
    }
    return true;
}

static void
s_check_text (svc_reply_t *reply, const char *field, const char *value, long max_chars)
{
    long length = s_text_length (value);
    if (length < 0)
        svc_field_error (reply, field, "must not contain control characters");
    else
    if (length > max_chars)
        svc_field_error (reply, field, "must be at most %ld characters", max_chars);
}

static void
s_check_email (svc_reply_t *reply, const char *email)
{
    if (!*email)
        svc_field_error (reply, "email", "is required");
    else
    if (!s_is_email (email))
        svc_field_error (reply, "email", "must be a valid email address");
}

static void
s_check_profile (svc_reply_t *reply, const char *name, const char *name_kana, const char *phone)
{
    if (name)
        s_check_text (reply, "name", name, NAME_MAX_CHARS);
    if (name_kana) {
        s_check_text (reply, "name_kana", name_kana, NAME_MAX_CHARS);
        if (!s_is_kana (name_kana))
            svc_field_error (reply, "name_kana", "must be written in full-width katakana");
    }
    if (phone && *phone && !s_is_phone (phone))
        svc_field_error (reply, "phone", "must be a phone number of 10 to 15 digits");
}

static int64_t
s_now (svc_request_t *request)
{
    return request->envelope->now_ms? request->envelope->now_ms: clock_now_ms ();
}

/* A viewer reads members with the phone number masked to its last four digits. */
static void
s_mask_for (svc_request_t *request, Kaiin__Member__Member *member)
{
    if (strcmp (request->envelope->caller_role, "viewer") != 0 || !*member->phone)
        return;
    size_t length = strlen (member->phone);
    for (size_t i = 0; i + 4 < length; i++)
        if (isdigit ((unsigned char) member->phone [i]))
            member->phone [i] = '*';
}

/* Turns a store outcome into the reply. */
static int
s_answer (svc_request_t *request, svc_reply_t *reply, member_store_rc_t rc,
          Kaiin__Member__Member *member)
{
    pg_t *db = request->db;
    switch (rc) {
        case MEMBER_STORE_OK:
            s_mask_for (request, member);
            svc_reply_with (reply, &member->base);
            member_store_clear (member);
            return 0;
        case MEMBER_STORE_NOT_FOUND:
            return svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
        case MEMBER_STORE_DUPLICATE:
            svc_field_error (reply, "email", "another member has this email address");
            reply->status = KAIIN__STATUS__ALREADY_EXISTS;
            snprintf (reply->message, sizeof reply->message, "a member with this email exists");
            return -1;
        case MEMBER_STORE_STALE:
            return svc_fail (reply, KAIIN__STATUS__ABORTED,
                             "the member changed since the version given in If-Match");
        case MEMBER_STORE_WITHDRAWN:
            return svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                             "the member has already withdrawn");
        default:
            return svc_db_fail (reply, db);
    }
}

int
member_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__CreateRequest *create = (Kaiin__Member__CreateRequest *)
        svc_unpack (request, &kaiin__member__create_request__descriptor, reply);
    if (!create)
        return -1;
    s_check_email (reply, create->email);
    s_check_profile (reply, create->name, create->name_kana, create->phone);
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        Kaiin__Member__Member member;
        audit_actor_t actor = audit_actor_of (request, s_now (request));
        rc = s_answer (request, reply,
                       member_store_create (request->db, create, &actor, &member), &member);
    }
    protobuf_c_message_free_unpacked (&create->base, NULL);
    return rc;
}

int
member_api_get (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__GetRequest *get = (Kaiin__Member__GetRequest *)
        svc_unpack (request, &kaiin__member__get_request__descriptor, reply);
    if (!get)
        return -1;
    int rc;
    Kaiin__Member__Member member;
    if (!s_is_uuid (get->id))
        rc = svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    else
        rc = s_answer (request, reply, member_store_get (request->db, get->id, &member), &member);
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}

int
member_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__UpdateRequest *update = (Kaiin__Member__UpdateRequest *)
        svc_unpack (request, &kaiin__member__update_request__descriptor, reply);
    if (!update)
        return -1;
    const char *fields [] = { "email", "name", "name_kana", "phone" };
    const char *values [] = { update->email, update->name, update->name_kana, update->phone };
    bool set [4] = { false };
    for (size_t i = 0; i < update->n_update_mask; i++) {
        size_t known = 0;
        while (known < 4 && strcmp (update->update_mask [i], fields [known]) != 0)
            known++;
        if (known == 4)
            svc_field_error (reply, update->update_mask [i], "is not a field that can be changed");
        else
            set [known] = true;
    }
    if (set [0])
        s_check_email (reply, values [0]);
    s_check_profile (reply, set [1]? values [1]: NULL, set [2]? values [2]: NULL,
                     set [3]? values [3]: NULL);
    int rc = -1;
    if (reply->status != KAIIN__STATUS__OK)
        ;
    else
    if (!s_is_uuid (update->id))
        rc = svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    else {
        Kaiin__Member__Member member;
        audit_actor_t actor = audit_actor_of (request, s_now (request));
        rc = s_answer (request, reply,
                       member_store_update (request->db, update, &actor, &member), &member);
    }
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}

int
member_api_withdraw (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__WithdrawRequest *withdraw = (Kaiin__Member__WithdrawRequest *)
        svc_unpack (request, &kaiin__member__withdraw_request__descriptor, reply);
    if (!withdraw)
        return -1;
    s_check_text (reply, "reason", withdraw->reason, REASON_MAX_CHARS);
    int rc = -1;
    if (reply->status != KAIIN__STATUS__OK)
        ;
    else
    if (!s_is_uuid (withdraw->id))
        rc = svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    else {
        Kaiin__Member__Member member;
        audit_actor_t actor = audit_actor_of (request, s_now (request));
        rc = s_answer (request, reply,
                       member_store_withdraw (request->db, withdraw, &actor, &member),
                       &member);
    }
    protobuf_c_message_free_unpacked (&withdraw->base, NULL);
    return rc;
}

/* Cursors are "m" and the last position in hex: opaque to clients, checked strictly here. */
static int
s_cursor_decode (const char *cursor, int64_t *after_seq)
{
    *after_seq = 0;
    if (!*cursor)
        return 0;
    if (cursor [0] != 'm' || strlen (cursor) < 2 || strlen (cursor) > 17)
        return -1;
    for (const char *c = cursor + 1; *c; c++) {
        if (!isxdigit ((unsigned char) *c))
            return -1;
        *after_seq = *after_seq * 16 + (isdigit ((unsigned char) *c)? *c - '0': (*c | 0x20) - 'a' + 10);
    }
    return *after_seq > 0? 0: -1;
}

int
member_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__ListRequest *list = (Kaiin__Member__ListRequest *)
        svc_unpack (request, &kaiin__member__list_request__descriptor, reply);
    if (!list)
        return -1;
    int64_t after_seq;
    int limit = list->limit? list->limit: 20;
    if (limit < 1 || limit > LIST_MAX)
        svc_field_error (reply, "limit", "must be from 1 to %d", LIST_MAX);
    if (s_cursor_decode (list->cursor, &after_seq) == -1)
        svc_field_error (reply, "cursor", "is not a cursor this API returned");
    if (*list->status && strcmp (list->status, "free") && strcmp (list->status, "paid")
    &&  strcmp (list->status, "withdrawn"))
        svc_field_error (reply, "status", "must be one of free, paid, withdrawn");
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        Kaiin__Member__ListReply page = KAIIN__MEMBER__LIST_REPLY__INIT;
        int64_t last_seq;
        int more;
        char cursor [24] = "";
        if (member_store_list (request->db, after_seq, limit, list->status, list->email,
                               &page, &last_seq, &more) == MEMBER_STORE_OK) {
            if (more)
                snprintf (cursor, sizeof cursor, "m%llx", (unsigned long long) last_seq);
            page.next_cursor = cursor;
            for (size_t i = 0; i < page.n_members; i++)
                s_mask_for (request, page.members [i]);
            rc = svc_reply_with (reply, &page.base);
            member_store_clear_list (&page);
        }
        else
            rc = svc_db_fail (reply, request->db);
    }
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

bool
member_api_valid_email (const char *email)
{
    return s_is_email (email);
}

bool
member_api_valid_uuid (const char *text)
{
    return s_is_uuid (text);
}

int
member_api_cursor_decode (const char *cursor, int64_t *after_seq)
{
    return s_cursor_decode (cursor, after_seq);
}
