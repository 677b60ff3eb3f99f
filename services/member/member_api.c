/* member_api.c - the member methods: validate, call the store, build the reply */
#include "member_api.h"
#include "mdp.h"
#include "clock.h"
#include "attribute_api.h"
#include "attribute_store.h"
#include "member_store.h"
#include "member_text.h"
#include <assert.h>
#include <ctype.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_CHARS    100
#define REASON_MAX_CHARS  500
#define EMAIL_MAX_BYTES   254
#define LIST_MAX          100
#define ADDRESS_MAX_CHARS 200
#define NOTE_MAX_CHARS    2000
#define SOURCE_MAX_CHARS  200
#define TAG_MAX_CHARS     50
#define Q_MAX_CHARS       100
#define FILTER_TAGS_MAX   20
#define FILTER_ATTRS_MAX  20
#define CONSENT_SKEW_MS   (5 * 60 * 1000)      /* a consent's time may be this far ahead */
#define BIRTHDAY_FIRST    "1900-01-01"

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

/* A viewer reads members with the phone number masked to its last four digits and the
   address hidden. */
static void
s_mask_for (svc_request_t *request, Kaiin__Member__Member *member)
{
    if (strcmp (request->envelope->caller_role, "viewer") != 0)
        return;
    int kept = 0;                       /* the last four digits stay, whatever is between */
    for (size_t i = strlen (member->phone); i-- > 0;)
        if (isdigit ((unsigned char) member->phone [i]) && kept++ >= 4)
            member->phone [i] = '*';
    if (*member->address) {
        free (member->address);
        member->address = strdup ("***");
    }
}

static bool
s_role_in (svc_request_t *request, const char *const *roles)
{
    for (const char *const *role = roles; *role; role++)
        if (strcmp (request->envelope->caller_role, *role) == 0)
            return true;
    return false;
}

/* The MEMBERS_WRITE permission, checked again here behind the gateway's route check. Returns
   -1 after failing the reply when the caller lacks it. */
static int
s_check_may_write (svc_request_t *request, svc_reply_t *reply)
{
    static const char *const roles [] = { "owner", "admin", "support", "service", NULL };
    if (s_role_in (request, roles))
        return 0;
    return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "the role '%s' may not change members",
                     request->envelope->caller_role);
}

/* Status and rank are protected fields (BOPLA): only owners, admins and other services may
   write them. */
static bool
s_may_write_protected (svc_request_t *request)
{
    const char *role = request->envelope->caller_role;
    return strcmp (role, "owner") == 0 || strcmp (role, "admin") == 0 || strcmp (role, "service") == 0;
}

/* Fails the reply with 403 naming field when the caller may not write it. Returns -1 then. */
static int
s_check_protected (svc_request_t *request, svc_reply_t *reply, const char *field)
{
    if (s_may_write_protected (request))
        return 0;
    if (reply->status != KAIIN__STATUS__PERMISSION_DENIED)
        svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED,
                  "the role '%s' may not change a member's status or rank",
                  request->envelope->caller_role);
    svc_field_error (reply, field, "only owners and admins may change this field");
    return -1;
}

/* Replaces *text (owned by an unpacked message) with its normalised postal code. */
static void
s_check_postal_code (svc_reply_t *reply, char **text)
{
    char normal [9];
    if (!**text)
        return;
    if (member_text_postal_code (*text, normal) == -1)
        svc_field_error (reply, "postal_code", "must be a postal code of 7 digits: 123-4567");
    else {
        free (*text);
        *text = strdup (normal);
    }
}

static void
s_check_birthday (svc_request_t *request, svc_reply_t *reply, const char *birthday)
{
    int64_t day, first;
    if (!*birthday)
        return;
    member_text_date (BIRTHDAY_FIRST, &first);
    if (member_text_date (birthday, &day) == -1)
        svc_field_error (reply, "birthday", "must be a date YYYY-MM-DD");
    else
    if (day < first || day > member_text_japan_day (s_now (request)))
        svc_field_error (reply, "birthday", "must be from 1900-01-01 to today");
}

/* The fields of the record beyond the profile: each given one is checked. */
static void
s_check_record (svc_request_t *request, svc_reply_t *reply, const char *birthday, char **postal_code,
                const char *prefecture, const char *address, const char *note)
{
    if (birthday)
        s_check_birthday (request, reply, birthday);
    if (postal_code)
        s_check_postal_code (reply, postal_code);
    if (prefecture && *prefecture && !member_text_is_prefecture (prefecture))
        svc_field_error (reply, "prefecture", "must be one of the 47 prefectures in kanji, e.g. 東京都");
    if (address)
        s_check_text (reply, "address", address, ADDRESS_MAX_CHARS);
    if (note) {
        long length = member_text_length (note, true);
        if (length < 0)
            svc_field_error (reply, "note", "must not contain control characters other than line breaks and tabs");
        else
        if (length > NOTE_MAX_CHARS)
            svc_field_error (reply, "note", "must be at most %d characters", NOTE_MAX_CHARS);
    }
}

/* A consent record: a method from the list, a time not ahead of now (now when not given). */
static void
s_check_consent (svc_request_t *request, svc_reply_t *reply, Kaiin__Member__Consent *consent)
{
    static const char *const methods [] = { "web_form", "paper", "import", "api", "verbal", NULL };
    const char *const *method = methods;
    while (*method && strcmp (*method, consent->method) != 0)
        method++;
    if (!*method)
        svc_field_error (reply, "marketing_consent.method",
                         "must be one of web_form, paper, import, api, verbal");
    int64_t now = s_now (request);
    if (!consent->at_ms)
        consent->at_ms = now;
    else
    if (consent->at_ms > now + CONSENT_SKEW_MS)
        svc_field_error (reply, "marketing_consent.at", "must not be in the future");
    s_check_text (reply, "marketing_consent.source", consent->source, SOURCE_MAX_CHARS);
}

/* Reads and checks attributes (a JSON object's text) against the definitions. */

/* While an import checks its rows, the attribute definitions are read once (this thread's). */
static __thread Kaiin__Member__AttributeListReply *s_cached_definitions;

int
member_api_cache_attributes (svc_request_t *request, bool on)
{
    if (s_cached_definitions) {
        attribute_store_clear_list (s_cached_definitions);
        free (s_cached_definitions);
        s_cached_definitions = NULL;
    }
    if (!on)
        return 0;
    Kaiin__Member__AttributeListReply *definitions = malloc (sizeof *definitions);
    kaiin__member__attribute_list_reply__init (definitions);
    if (attribute_store_list (request->db, definitions) != MEMBER_STORE_OK) {
        attribute_store_clear_list (definitions);
        free (definitions);
        return -1;
    }
    s_cached_definitions = definitions;
    return 0;
}

static void
s_check_attributes (svc_request_t *request, svc_reply_t *reply, const char *text, bool creating)
{
    json_t *values = *text? json_loads (text, 0, NULL): json_object ();
    if (!json_is_object (values)) {
        svc_field_error (reply, "attributes", "must be a JSON object");
        json_decref (values);
        return;
    }
    if (s_cached_definitions)
        attribute_api_check (reply, s_cached_definitions, values, creating);
    else
    if (json_object_size (values) || creating) {
        Kaiin__Member__AttributeListReply definitions = KAIIN__MEMBER__ATTRIBUTE_LIST_REPLY__INIT;
        if (attribute_store_list (request->db, &definitions) != MEMBER_STORE_OK)
            svc_db_fail (reply, request->db);
        else
            attribute_api_check (reply, &definitions, values, creating);
        attribute_store_clear_list (&definitions);
    }
    json_decref (values);
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
        case MEMBER_STORE_NO_RANK:
            svc_field_error (reply, "rank", "is not a rank defined in /v1/member-ranks");
            return -1;
        case MEMBER_STORE_TOO_MANY_TAGS:
            svc_field_error (reply, "add", "a member can have at most %d tags", MEMBER_STORE_TAGS_MAX);
            return -1;
        default:
            return svc_db_fail (reply, db);
    }
}

int
member_api_check_create (svc_request_t *request, Kaiin__Member__CreateRequest *create,
                         svc_reply_t *reply)
{
    if (*create->rank && s_check_protected (request, reply, "rank") == -1)
        return -1;
    s_check_email (reply, create->email);
    s_check_profile (reply, create->name, create->name_kana, create->phone);
    s_check_record (request, reply, create->birthday, &create->postal_code, create->prefecture,
                    create->address, create->note);
    if (create->marketing_consent)
        s_check_consent (request, reply, create->marketing_consent);
    if (reply->status == KAIIN__STATUS__OK)
        s_check_attributes (request, reply, create->attributes_json, true);
    return reply->status == KAIIN__STATUS__OK? 0: -1;
}

int
member_api_create (svc_request_t *request, svc_reply_t *reply)
{
    if (s_check_may_write (request, reply) == -1)
        return -1;
    Kaiin__Member__CreateRequest *create = (Kaiin__Member__CreateRequest *)
        svc_unpack (request, &kaiin__member__create_request__descriptor, reply);
    if (!create)
        return -1;
    int rc = -1;
    if (member_api_check_create (request, create, reply) == 0) {
        Kaiin__Member__Member member;
        audit_actor_t actor = audit_actor_of (request, s_now (request));
        rc = s_answer (request, reply,
                       member_store_create (request->db, create, &actor, &member), &member);
    }
    protobuf_c_message_free_unpacked (&create->base, NULL);
    return rc;
}

/* member.Get for the requests a worker holds: the members they may read, in one statement. */
void
member_api_get_many (svc_request_t *const *requests, svc_reply_t *const *replies, int count)
{
    Kaiin__Member__GetRequest *gets [MDP_MAX_CREDIT];
    const char *ids [MDP_MAX_CREDIT];
    int asked [MDP_MAX_CREDIT], asking = 0;
    for (int i = 0; i < count; i++) {
        const Kaiin__Request *envelope = requests [i]->envelope;
        Kaiin__Member__GetRequest *get = gets [i] = (Kaiin__Member__GetRequest *)
            svc_unpack (requests [i], &kaiin__member__get_request__descriptor, replies [i]);
        if (!get)
            continue;
        if (strcmp (envelope->caller_role, "member") == 0 && strcasecmp (envelope->caller_id, get->id) != 0)
            svc_fail (replies [i], KAIIN__STATUS__PERMISSION_DENIED, "a member may read only their own record");
        else
        if (!s_is_uuid (get->id))
            svc_fail (replies [i], KAIIN__STATUS__NOT_FOUND, "no such member");
        else {
            ids [asking] = get->id;
            asked [asking++] = i;
        }
    }
    Kaiin__Member__Member members [MDP_MAX_CREDIT];
    bool found [MDP_MAX_CREDIT];
    member_store_rc_t rc = asking? member_store_get_many (requests [0]->db, ids, asking, members, found)
                                 : MEMBER_STORE_OK;
    for (int k = 0; k < asking; k++)
        s_answer (requests [asked [k]], replies [asked [k]],
                  rc != MEMBER_STORE_OK? rc: found [k]? MEMBER_STORE_OK: MEMBER_STORE_NOT_FOUND, &members [k]);
    for (int i = 0; i < count; i++)
        if (gets [i])
            protobuf_c_message_free_unpacked (&gets [i]->base, NULL);
}

int
member_api_get (svc_request_t *request, svc_reply_t *reply)
{
    member_api_get_many (&request, &reply, 1);
    return reply->status == KAIIN__STATUS__OK? 0: -1;
}

/* The fields member.Update can change, in update_mask's words. */
static const char *const s_update_fields [] = {
    "email", "name", "name_kana", "phone", "birthday", "postal_code", "prefecture", "address",
    "rank", "status", "attributes", "note", "marketing_consent", NULL
};

int
member_api_update (svc_request_t *request, svc_reply_t *reply)
{
    if (s_check_may_write (request, reply) == -1)
        return -1;
    Kaiin__Member__UpdateRequest *update = (Kaiin__Member__UpdateRequest *)
        svc_unpack (request, &kaiin__member__update_request__descriptor, reply);
    if (!update)
        return -1;
    int rc = -1;
    for (size_t i = 0; i < update->n_update_mask; i++) {
        const char *const *known = s_update_fields;
        while (*known && strcmp (update->update_mask [i], *known) != 0)
            known++;
        if (!*known)
            svc_field_error (reply, update->update_mask [i], "is not a field that can be changed");
    }
    /* The BOPLA check first: a role that may not write status or rank learns nothing more. */
    bool protected_denied = false;
    if (SVC_MASKED (update, "status"))
        protected_denied |= s_check_protected (request, reply, "status") == -1;
    if (SVC_MASKED (update, "rank"))
        protected_denied |= s_check_protected (request, reply, "rank") == -1;
    if (protected_denied)
        goto done;
    if (SVC_MASKED (update, "email"))
        s_check_email (reply, update->email);
    s_check_profile (reply, SVC_MASKED (update, "name")? update->name: NULL,
                     SVC_MASKED (update, "name_kana")? update->name_kana: NULL,
                     SVC_MASKED (update, "phone")? update->phone: NULL);
    s_check_record (request, reply, SVC_MASKED (update, "birthday")? update->birthday: NULL,
                    SVC_MASKED (update, "postal_code")? &update->postal_code: NULL,
                    SVC_MASKED (update, "prefecture")? update->prefecture: NULL,
                    SVC_MASKED (update, "address")? update->address: NULL,
                    SVC_MASKED (update, "note")? update->note: NULL);
    if (SVC_MASKED (update, "rank") && !*update->rank)
        svc_field_error (reply, "rank", "is required: a rank defined in /v1/member-ranks");
    if (SVC_MASKED (update, "status") && strcmp (update->status, "free") != 0
    &&  strcmp (update->status, "paid") != 0)
        svc_field_error (reply, "status", strcmp (update->status, "withdrawn") == 0
                         ? "a member withdraws through POST /v1/members/{id}/withdraw"
                         : "must be free or paid");
    if (SVC_MASKED (update, "marketing_consent")) {
        if (!update->marketing_consent)
            svc_field_error (reply, "marketing_consent",
                             "the consent record is kept: record an opt-out instead of removing it");
        else
            s_check_consent (request, reply, update->marketing_consent);
    }
    if (reply->status == KAIIN__STATUS__OK && SVC_MASKED (update, "attributes"))
        s_check_attributes (request, reply, update->attributes_json, false);
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
done:
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}

int
member_api_withdraw (svc_request_t *request, svc_reply_t *reply)
{
    if (s_check_may_write (request, reply) == -1)
        return -1;
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

/* Checks a list of tags named field: each 1 to 50 characters, none repeated. */
static void
s_check_tags (svc_reply_t *reply, const char *field, char *const *tags, size_t count, size_t max)
{
    if (count > max) {
        svc_field_error (reply, field, "may hold at most %zu tags", max);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        long length = member_text_length (tags [i], false);
        if (length < 1 || length > TAG_MAX_CHARS) {
            svc_field_error (reply, field, "each tag must be 1 to %d characters without control characters",
                             TAG_MAX_CHARS);
            return;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp (tags [i], tags [j]) == 0) {
                svc_field_error (reply, field, "names the tag '%s' twice", tags [i]);
                return;
            }
    }
}

/* The TAGS_WRITE permission. */
static bool
s_may_tag (svc_request_t *request)
{
    static const char *const roles [] = { "owner", "admin", "support", "marketing", "service", NULL };
    return s_role_in (request, roles);
}

int
member_api_tag (svc_request_t *request, svc_reply_t *reply)
{
    if (!s_may_tag (request))
        return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "the role '%s' may not tag members",
                         request->envelope->caller_role);
    Kaiin__Member__TagRequest *tag = (Kaiin__Member__TagRequest *)
        svc_unpack (request, &kaiin__member__tag_request__descriptor, reply);
    if (!tag)
        return -1;
    s_check_tags (reply, "add", tag->add, tag->n_add, MEMBER_STORE_TAGS_MAX);
    s_check_tags (reply, "remove", tag->remove, tag->n_remove, MEMBER_STORE_TAGS_MAX);
    if (tag->n_add + tag->n_remove == 0)
        svc_field_error (reply, "add", "add or remove must name a tag");
    for (size_t i = 0; i < tag->n_add; i++)
        for (size_t j = 0; j < tag->n_remove; j++)
            if (strcmp (tag->add [i], tag->remove [j]) == 0)
                svc_field_error (reply, "remove", "the tag '%s' is both added and removed", tag->add [i]);
    int rc = -1;
    if (reply->status != KAIIN__STATUS__OK)
        ;
    else
    if (!s_is_uuid (tag->id))
        rc = svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "no such member");
    else {
        Kaiin__Member__Member member;
        audit_actor_t actor = audit_actor_of (request, s_now (request));
        rc = s_answer (request, reply, member_store_tag (request->db, tag, &actor, &member), &member);
    }
    protobuf_c_message_free_unpacked (&tag->base, NULL);
    return rc;
}

/* --- cursors ------------------------------------------------------------------------------- */

/* The default order's cursors are "m" and the last position in hex. */
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

/* Each sort's cursor starts with its own letter, so that a cursor of one order is refused in
   another; then the sort key (decimal microseconds, or the kana in hex), ".", and seq in hex. */
static const char s_sort_letters [] = { 'm', 'a', 'd', 'k', 'j' };

static int
s_hex_value (char c)
{
    return isdigit ((unsigned char) c)? c - '0': (c | 0x20) - 'a' + 10;
}

static int
s_position_decode (const char *cursor, member_sort_t sort, member_position_t *position)
{
    memset (position, 0, sizeof *position);
    if (!*cursor)
        return 0;
    if (sort == MEMBER_SORT_SEQ) {
        if (s_cursor_decode (cursor, &position->seq) == -1)
            return -1;
        position->set = true;
        return 0;
    }
    /* The seq part follows the "m" cursor's rules. */
    const char *dot = strrchr (cursor, '.');
    char seq_text [24];
    if (cursor [0] != s_sort_letters [sort] || !dot || strlen (dot + 1) > 16)
        return -1;
    snprintf (seq_text, sizeof seq_text, "m%s", dot + 1);
    if (s_cursor_decode (seq_text, &position->seq) == -1)
        return -1;
    const char *key = cursor + 1;
    size_t key_length = dot - key;
    if (sort == MEMBER_SORT_CREATED || sort == MEMBER_SORT_CREATED_DESC) {
        if (key_length < 1 || key_length > 18)
            return -1;
        for (size_t i = 0; i < key_length; i++)
            if (!isdigit ((unsigned char) key [i]))
                return -1;
        memcpy (position->key, key, key_length);
        position->key [key_length] = 0;
    }
    else {
        if (key_length % 2 || key_length / 2 >= sizeof position->key)
            return -1;
        for (size_t i = 0; i < key_length; i += 2) {
            if (!isxdigit ((unsigned char) key [i]) || !isxdigit ((unsigned char) key [i + 1]))
                return -1;
            position->key [i / 2] = (char) (s_hex_value (key [i]) * 16 + s_hex_value (key [i + 1]));
        }
        position->key [key_length / 2] = 0;
        if (strlen (position->key) != key_length / 2 || member_text_length (position->key, false) < 0)
            return -1;
    }
    position->set = true;
    return 0;
}

/* Writes the cursor after position into cursor (at least 680 bytes). */
static void
s_position_encode (const member_position_t *position, member_sort_t sort, char *cursor, size_t size)
{
    if (sort == MEMBER_SORT_SEQ) {
        snprintf (cursor, size, "m%llx", (unsigned long long) position->seq);
        return;
    }
    size_t used = 0;
    cursor [used++] = s_sort_letters [sort];
    if (sort == MEMBER_SORT_CREATED || sort == MEMBER_SORT_CREATED_DESC)
        used += snprintf (cursor + used, size - used, "%s", position->key);
    else
        for (const unsigned char *c = (const unsigned char *) position->key; *c && used + 3 < size; c++)
            used += snprintf (cursor + used, size - used, "%02x", *c);
    snprintf (cursor + used, size - used, ".%llx", (unsigned long long) position->seq);
}

/* --- search -------------------------------------------------------------------------------- */

/* Builds a PostgreSQL array literal of tags into a new string. */
static char *
s_tags_array (char *const *tags, size_t count)
{
    size_t size = 3;
    for (size_t i = 0; i < count; i++)
        size += 2 * strlen (tags [i]) + 3;
    char *array = malloc (size), *out = array;
    assert (array);
    *out++ = '{';
    for (size_t i = 0; i < count; i++) {
        if (i)
            *out++ = ',';
        *out++ = '"';
        for (const char *c = tags [i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                *out++ = '\\';
            *out++ = *c;
        }
        *out++ = '"';
    }
    *out++ = '}';
    *out = 0;
    return array;
}

static int
s_sort_of (const char *sort, member_sort_t *value)
{
    static const char *const names [] = { "", "created_at", "-created_at", "name_kana", "-name_kana" };
    for (int i = 0; i < 5; i++)
        if (strcmp (sort, names [i]) == 0) {
            *value = (member_sort_t) i;
            return 0;
        }
    return -1;
}

int
member_api_query_prepare (svc_request_t *request, const Kaiin__Member__ListRequest *list,
                          member_api_query_t *prepared, svc_reply_t *reply)
{
    memset (prepared, 0, sizeof *prepared);
    member_query_t *query = &prepared->query;
    *query = (member_query_t) { .limit = list->limit? list->limit: 20, .status = list->status,
                                .email = list->email, .q = list->q, .rank = list->rank,
                                .tags_all = strcmp (list->tags_mode, "all") == 0,
                                .attributes = "",
                                .created_from_ms = list->created_from_ms,
                                .created_to_ms = list->created_to_ms,
                                .last_login_from_ms = list->last_login_from_ms,
                                .last_login_to_ms = list->last_login_to_ms };
    if (query->limit < 1 || query->limit > LIST_MAX)
        svc_field_error (reply, "limit", "must be from 1 to %d", LIST_MAX);
    if (s_sort_of (list->sort, &query->sort) == -1)
        svc_field_error (reply, "sort", "must be one of created_at, -created_at, name_kana, -name_kana");
    else
    if (s_position_decode (list->cursor, query->sort, &query->after) == -1)
        svc_field_error (reply, "cursor", "is not a cursor this API returned for this sort");
    if (*list->status && strcmp (list->status, "free") && strcmp (list->status, "paid")
    &&  strcmp (list->status, "withdrawn"))
        svc_field_error (reply, "status", "must be one of free, paid, withdrawn");
    long q_length = member_text_length (list->q, false);
    long q_spaces = 0;
    for (const char *c = list->q; *c; c++)
        q_spaces += *c == ' ';
    /* Three characters make a trigram; shorter, walking the order's index finds a page soon
       in creation order, but in another order it may walk most of the table first. */
    query->q_selective = q_length - q_spaces >= 3 || (q_length - q_spaces > 0 && *list->sort);
    if (q_length < 0 || q_length > Q_MAX_CHARS)
        svc_field_error (reply, "q", "must be at most %d characters without control characters", Q_MAX_CHARS);
    if (member_text_length (list->rank, false) < 0 || strlen (list->rank) > 32)
        svc_field_error (reply, "rank", "is not a rank code");
    if (*list->tags_mode && strcmp (list->tags_mode, "any") && strcmp (list->tags_mode, "all"))
        svc_field_error (reply, "tags_mode", "must be any or all");
    s_check_tags (reply, "tag", list->tags, list->n_tags, FILTER_TAGS_MAX);
    if (list->n_attributes > FILTER_ATTRS_MAX) {
        char field [80];
        snprintf (field, sizeof field, "attr.%.60s", list->attributes [FILTER_ATTRS_MAX]->key);
        svc_field_error (reply, field, "at most %d attribute filters", FILTER_ATTRS_MAX);
    }
    if (list->n_attributes && reply->status == KAIIN__STATUS__OK) {
        Kaiin__Member__AttributeListReply definitions = KAIIN__MEMBER__ATTRIBUTE_LIST_REPLY__INIT;
        if (attribute_store_list (request->db, &definitions) != MEMBER_STORE_OK)
            svc_db_fail (reply, request->db);
        else
            prepared->attributes = attribute_api_filter (reply, &definitions, list->attributes,
                                                         list->n_attributes);
        attribute_store_clear_list (&definitions);
        if (prepared->attributes)
            query->attributes = prepared->attributes;
    }
    if (reply->status != KAIIN__STATUS__OK) {
        member_api_query_release (prepared);
        return -1;
    }
    prepared->tags = s_tags_array (list->tags, list->n_tags);
    query->tags_array = prepared->tags;
    return 0;
}

void
member_api_query_release (member_api_query_t *prepared)
{
    free (prepared->attributes);
    free (prepared->tags);
    prepared->attributes = prepared->tags = NULL;
}

int
member_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Member__ListRequest *list = (Kaiin__Member__ListRequest *)
        svc_unpack (request, &kaiin__member__list_request__descriptor, reply);
    if (!list)
        return -1;
    int rc = -1;
    member_api_query_t prepared;
    if (member_api_query_prepare (request, list, &prepared, reply) == 0) {
        Kaiin__Member__ListReply page = KAIIN__MEMBER__LIST_REPLY__INIT;
        member_position_t last;
        int more;
        char cursor [700] = "";
        if (member_store_list (request->db, &prepared.query, &page, &last, &more) == MEMBER_STORE_OK) {
            if (more)
                s_position_encode (&last, prepared.query.sort, cursor, sizeof cursor);
            page.next_cursor = cursor;
            for (size_t i = 0; i < page.n_members; i++)
                s_mask_for (request, page.members [i]);
            rc = svc_reply_with (reply, &page.base);
            member_store_clear_list (&page);
        }
        else
            rc = svc_db_fail (reply, request->db);
        member_api_query_release (&prepared);
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

long
member_api_text_length (const char *text)
{
    return s_text_length (text);
}
