/* member_check.c - the member record's rules: emails, names in katakana, phones, postal
   codes, birthdays, consents, custom attributes' values, tags, and who may write status and
   rank; a new member and a change checked as a whole */
#include "member_check.h"
#include "attribute.h"
#include "member_text.h"
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_CHARS    100
#define EMAIL_MAX_BYTES   254
#define ADDRESS_MAX_CHARS 200
#define NOTE_MAX_CHARS    2000
#define SOURCE_MAX_CHARS  200
#define TAG_MAX_CHARS     50
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

void
member_check_text (svc_reply_t *reply, const char *field, const char *value, long max_chars)
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

/* Replaces *text (owned by an unpacked message or an import's row) with normal, which it
   takes: the one place where what people type becomes the record's form. */
static void
s_replace (char **text, char *normal)
{
    free (*text);
    *text = normal;
}

static void
s_check_profile (svc_reply_t *reply, const char *name, char **name_kana, char **phone)
{
    if (name)
        member_check_text (reply, "name", name, NAME_MAX_CHARS);
    if (name_kana && **name_kana) {
        char *kana = member_text_kana (*name_kana);
        if (kana)
            s_replace (name_kana, kana);
        member_check_text (reply, "name_kana", *name_kana, NAME_MAX_CHARS);
        if (!kana || !s_is_kana (*name_kana))
            svc_field_error (reply, "name_kana", "must be written in katakana (or hiragana)");
    }
    if (phone && **phone) {
        char *normal = member_text_phone (*phone);
        if (normal)
            s_replace (phone, normal);
        if (!normal || !s_is_phone (*phone))
            svc_field_error (reply, "phone", "must be a phone number of 10 to 15 digits");
    }
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

static void
s_check_postal_code (svc_reply_t *reply, char **text)
{
    char normal [9];
    if (!**text)
        return;
    if (member_text_postal_code (*text, normal) == -1)
        svc_field_error (reply, "postal_code", "must be a postal code of 7 digits: 123-4567");
    else
        s_replace (text, strdup (normal));
}

static void
s_check_birthday (svc_request_t *request, svc_reply_t *reply, char **birthday)
{
    char normal [11];
    int64_t day, first;
    if (!**birthday)
        return;
    member_text_date (BIRTHDAY_FIRST, &first);
    member_text_date_rc_t rc = member_text_birthday (*birthday, normal);
    if (rc == MEMBER_TEXT_DATE_UNREADABLE)
        svc_field_error (reply, "birthday", "must be a date such as 1990-01-02, 1990/1/2, 1990年1月2日 or 平成2年1月2日");
    else
    if (rc == MEMBER_TEXT_DATE_OUTSIDE_ERA)
        svc_field_error (reply, "birthday", "names a day its era did not reach: write it as 1990/1/2");
    else {
        s_replace (birthday, strdup (normal));
        member_text_date (normal, &day);
        if (day < first || day > member_text_japan_day (member_now (request)))
            svc_field_error (reply, "birthday", "must be from 1900-01-01 to today");
    }
}

static void
s_check_prefecture (svc_reply_t *reply, char **text)
{
    if (!**text)
        return;
    const char *prefecture = member_text_prefecture (*text);
    if (!prefecture)
        svc_field_error (reply, "prefecture", "must be one of the 47 prefectures in kanji, e.g. 東京都");
    else
        s_replace (text, strdup (prefecture));
}

/* The fields of the record beyond the profile: each given one is checked. */
static void
s_check_record (svc_request_t *request, svc_reply_t *reply, char **birthday, char **postal_code,
                char **prefecture, const char *address, const char *note)
{
    if (birthday)
        s_check_birthday (request, reply, birthday);
    if (postal_code)
        s_check_postal_code (reply, postal_code);
    if (prefecture)
        s_check_prefecture (reply, prefecture);
    if (address)
        member_check_text (reply, "address", address, ADDRESS_MAX_CHARS);
    if (note) {
        long length = member_text_length (note, true);
        if (length < 0)
            svc_field_error (reply, "note", "must not contain control characters other than line breaks and tabs");
        else
        if (length > NOTE_MAX_CHARS)
            svc_field_error (reply, "note", "must be at most %d characters", NOTE_MAX_CHARS);
    }
}

/* A consent record: a method from the list, a time not ahead of now (now when not given).
   A member's own choice (the portal) is method portal, made now: staff say how and when a
   consent was given, a member only gives it. */
static void
s_check_consent (svc_request_t *request, svc_reply_t *reply, Kaiin__Member__Consent *consent)
{
    static const char *const methods [] = { "web_form", "paper", "import", "api", "verbal", NULL };
    const char *const *method = methods;
    bool own = strcmp (request->envelope->caller_role, "member") == 0;
    while (*method && strcmp (*method, consent->method) != 0)
        method++;
    if (own && strcmp (consent->method, "portal") != 0)
        svc_field_error (reply, "marketing_consent.method", "must be portal: the member's own choice");
    else
    if (!own && !*method)
        svc_field_error (reply, "marketing_consent.method",
                         "must be one of web_form, paper, import, api, verbal");
    int64_t now = member_now (request);
    if (own && consent->at_ms)
        svc_field_error (reply, "marketing_consent.at", "is the time it is recorded: leave it out");
    if (!consent->at_ms)
        consent->at_ms = now;
    else
    if (consent->at_ms > now + CONSENT_SKEW_MS)
        svc_field_error (reply, "marketing_consent.at", "must not be in the future");
    member_check_text (reply, "marketing_consent.source", consent->source, SOURCE_MAX_CHARS);
}

/* While an import checks its rows, the attribute definitions are read once (this thread's). */
static __thread Kaiin__Member__AttributeListReply *s_cached_definitions;

int
member_check_cache_attributes (svc_request_t *request, bool on)
{
    if (s_cached_definitions) {
        protobuf_c_message_free_unpacked (&s_cached_definitions->base, NULL);
        s_cached_definitions = NULL;
    }
    if (!on)
        return 0;
    s_cached_definitions = attribute_definitions (request->db);
    return s_cached_definitions? 0: -1;
}

/* Reads and checks attributes (a JSON object's text) against the definitions. */
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
        attribute_check (reply, s_cached_definitions, values, creating);
    else
    if (json_object_size (values) || creating) {
        Kaiin__Member__AttributeListReply *definitions = attribute_definitions (request->db);
        if (!definitions)
            svc_db_fail (reply, request->db);
        else {
            attribute_check (reply, definitions, values, creating);
            protobuf_c_message_free_unpacked (&definitions->base, NULL);
        }
    }
    json_decref (values);
}

int
member_check_create (svc_request_t *request, Kaiin__Member__CreateRequest *create,
                     svc_reply_t *reply)
{
    if (*create->rank && s_check_protected (request, reply, "rank") == -1)
        return -1;
    s_check_email (reply, create->email);
    s_check_profile (reply, create->name, &create->name_kana, &create->phone);
    s_check_record (request, reply, &create->birthday, &create->postal_code, &create->prefecture,
                    create->address, create->note);
    if (create->marketing_consent)
        s_check_consent (request, reply, create->marketing_consent);
    if (reply->status == KAIIN__STATUS__OK)
        s_check_attributes (request, reply, create->attributes_json, true);
    return reply->status == KAIIN__STATUS__OK? 0: -1;
}

/* The fields member.Update can change, in update_mask's words. */
static const char *const s_update_fields [] = {
    "email", "name", "name_kana", "phone", "birthday", "postal_code", "prefecture", "address",
    "rank", "status", "attributes", "note", "marketing_consent", NULL
};

int
member_check_update (svc_request_t *request, Kaiin__Member__UpdateRequest *update,
                     svc_reply_t *reply)
{
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
        return -1;
    if (SVC_MASKED (update, "email"))
        s_check_email (reply, update->email);
    s_check_profile (reply, SVC_MASKED (update, "name")? update->name: NULL,
                     SVC_MASKED (update, "name_kana")? &update->name_kana: NULL,
                     SVC_MASKED (update, "phone")? &update->phone: NULL);
    s_check_record (request, reply, SVC_MASKED (update, "birthday")? &update->birthday: NULL,
                    SVC_MASKED (update, "postal_code")? &update->postal_code: NULL,
                    SVC_MASKED (update, "prefecture")? &update->prefecture: NULL,
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
    return reply->status == KAIIN__STATUS__OK? 0: -1;
}

void
member_check_tags (svc_reply_t *reply, const char *field, char *const *tags, size_t count, size_t max)
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

bool
member_check_valid_email (const char *email)
{
    return s_is_email (email);
}

long
member_check_text_length (const char *text)
{
    return s_text_length (text);
}
