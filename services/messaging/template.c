/* template.c - templates: a subject, an HTML and a text part, transactional or marketing,
   checked when saved */
#include "template.h"
#include "mail.h"
#include "render.h"
#include <stdlib.h>
#include <string.h>

#define TEMPLATE_COLUMNS "id, name, kind, subject, html, text, created_at_ms, updated_at_ms, version, seq"
#define PART_MAX_CHARS 100000

void
template_prepare (pg_t *db)
{
    pg_prepare (db, "template_insert",
            "insert into templates (name, kind, subject, html, text, created_at_ms, updated_at_ms)"
            " values ($1, $2, $3, $4, $5, $6, $6) returning " TEMPLATE_COLUMNS);
    pg_prepare (db, "template_get",
            "select " TEMPLATE_COLUMNS " from templates where id = $1 and not deleted");
    pg_prepare (db, "template_load", "select " TEMPLATE_COLUMNS " from templates where id = $1");
    pg_prepare (db, "template_usable", "select 1 from templates where id = $1 and not deleted");
    pg_prepare (db, "template_list",
            "select " TEMPLATE_COLUMNS " from templates where not deleted and seq < $1"
            " order by seq desc limit $2");
    pg_prepare (db, "template_update",
            "update templates set name = $2, kind = $3, subject = $4, html = $5, text = $6,"
            " updated_at_ms = $7, version = version + 1"
            " where id = $1 and not deleted and ($8::bigint = 0 or version = $8)"
            " returning " TEMPLATE_COLUMNS);
    pg_prepare (db, "template_delete",
            "update templates set deleted = true, updated_at_ms = $2, version = version + 1"
            " where id = $1 and not deleted returning " TEMPLATE_COLUMNS);
}

Kaiin__Messaging__Template *
template_load (pg_t *db, const char *id, bool *failed)
{
    *failed = false;
    if (!messaging_uuid (id))
        return NULL;
    const char *params [] = { id };
    PGresult *result = pg_run (db, "template_load", 1, params);
    *failed = !result;
    Kaiin__Messaging__Template *template = result && PQntuples (result)
        ? (Kaiin__Messaging__Template *) pg_row_message (result, 0, &kaiin__messaging__template__descriptor)
        : NULL;
    PQclear (result);
    return template;
}

int
template_usable (pg_t *db, const char *id)
{
    return messaging_exists (db, "template_usable", id);
}

/* A part's text and template syntax. */
static void
s_check_part (svc_reply_t *reply, const char *field, const char *text, long max_chars, bool multiline)
{
    messaging_check_text (reply, field, text, max_chars, multiline);
    char error [192];
    const char *code;
    if (render_check (text, reply->japanese, error, sizeof error, &code) == -1)
        svc_field_error_coded (reply, field, code, error);
}

/* Field errors for a whole template as it would be saved; a draft has no name yet. */
static void
s_check (svc_reply_t *reply, const Kaiin__Messaging__Template *template, bool draft)
{
    if (!draft)
        messaging_check_text (reply, "name", template->name, 100, false);
    if (strcmp (template->kind, "transactional") != 0 && strcmp (template->kind, "marketing") != 0)
        svc_field_error (reply, "kind", "must be one of transactional, marketing");
    s_check_part (reply, "subject", template->subject, 200, false);
    if (!*template->html && !*template->text)
        svc_field_error (reply, "text", "html or text must be given");
    if (*template->html)
        s_check_part (reply, "html", template->html, PART_MAX_CHARS, true);
    if (*template->text)
        s_check_part (reply, "text", template->text, PART_MAX_CHARS, true);
}

/* Runs a statement that returns the template, answering it (NOT_FOUND when no row). */
static int
s_reply (svc_request_t *request, svc_reply_t *reply, const char *name, int count, const char *const *params)
{
    return messaging_reply_row (request, reply, name, count, params,
                                &kaiin__messaging__template__descriptor, "template not found");
}

int
template_api_create (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__Template *template = (Kaiin__Messaging__Template *)
        svc_unpack (request, &kaiin__messaging__template__descriptor, reply);
    if (!template)
        return -1;
    s_check (reply, template, false);
    int rc = -1;
    if (reply->status == KAIIN__STATUS__OK) {
        char now [24];
        const char *params [] = { template->name, template->kind, template->subject, template->html,
                                  template->text, NUM (now, messaging_now (request)) };
        rc = s_reply (request, reply, "template_insert", 6, params);
    }
    protobuf_c_message_free_unpacked (&template->base, NULL);
    return rc;
}

/* The request's id, checked: NOT_FOUND for what is not a uuid. Returns the IdRequest or NULL. */
static Kaiin__Messaging__IdRequest *
s_id_request (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__IdRequest *get = (Kaiin__Messaging__IdRequest *)
        svc_unpack (request, &kaiin__messaging__id_request__descriptor, reply);
    if (get && !messaging_uuid (get->id)) {
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "template not found");
        protobuf_c_message_free_unpacked (&get->base, NULL);
        return NULL;
    }
    return get;
}

int
template_api_get (svc_request_t *request, svc_reply_t *reply)
{
    return messaging_reply_by_id (request, reply, "template_get",
                                  &kaiin__messaging__template__descriptor, "template not found");
}

int
template_api_delete (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__IdRequest *get = s_id_request (request, reply);
    if (!get)
        return -1;
    char now [24];
    const char *params [] = { get->id, NUM (now, messaging_now (request)) };
    int rc = s_reply (request, reply, "template_delete", 2, params);
    protobuf_c_message_free_unpacked (&get->base, NULL);
    return rc;
}

int
template_api_list (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__ListRequest *list = (Kaiin__Messaging__ListRequest *)
        svc_unpack (request, &kaiin__messaging__list_request__descriptor, reply);
    if (!list)
        return -1;
    const char *params [2];
    int rc = messaging_reply_list (request, reply, "template_list", 2, params, list,
                                   &kaiin__messaging__template_list__descriptor);
    protobuf_c_message_free_unpacked (&list->base, NULL);
    return rc;
}

int
template_api_update (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__TemplateUpdateRequest *update = (Kaiin__Messaging__TemplateUpdateRequest *)
        svc_unpack (request, &kaiin__messaging__template_update_request__descriptor, reply);
    if (!update)
        return -1;
    bool failed;
    Kaiin__Messaging__Template *now = template_load (request->db, update->id, &failed);
    int rc = -1;
    if (failed)
        svc_db_fail (reply, request->db);
    else
    if (!now)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "template not found");
    else {
        Kaiin__Messaging__Template *change = update->template_;
        Kaiin__Messaging__Template merged = *now;
        if (change) {
            if (SVC_MASKED (update, "name")) merged.name = change->name;
            if (SVC_MASKED (update, "kind")) merged.kind = change->kind;
            if (SVC_MASKED (update, "subject")) merged.subject = change->subject;
            if (SVC_MASKED (update, "html")) merged.html = change->html;
            if (SVC_MASKED (update, "text")) merged.text = change->text;
        }
        s_check (reply, &merged, false);
        if (reply->status == KAIIN__STATUS__OK) {
            char at [24], version [24];
            const char *params [] = { update->id, merged.name, merged.kind, merged.subject,
                                      merged.html, merged.text, NUM (at, messaging_now (request)),
                                      NUM (version, update->if_version) };
            rc = messaging_reply_changed (request, reply, "template_update", 8, params,
                                          &kaiin__messaging__template__descriptor,
                                          "the template was changed meanwhile");
        }
        protobuf_c_message_free_unpacked (&now->base, NULL);
    }
    protobuf_c_message_free_unpacked (&update->base, NULL);
    return rc;
}

/* Answers template rendered for member_id as a mail to them would be. Returns 0 or -1. */
static int
s_preview (svc_request_t *request, svc_reply_t *reply, const Kaiin__Messaging__Template *template,
           const char *member_id)
{
    mail_content_t content;
    char error [256] = "";
    int found = mail_compose (request->db, template, member_id, NULL,
                              "00000000-0000-0000-0000-000000000000", &content, error, sizeof error);
    if (found == -1)
        return svc_db_fail (reply, request->db);
    if (found == -2)
        return svc_fail (reply, KAIIN__STATUS__UNAVAILABLE, "the mail cannot be made now: %s", error);
    if (found == 1) {
        svc_field_error (reply, "member_id", "is not a member messaging knows");
        return -1;
    }
    Kaiin__Messaging__Preview answer = KAIIN__MESSAGING__PREVIEW__INIT;
    answer.subject = content.subject;
    answer.html = content.html;
    answer.text = content.text;
    answer.to = content.member.email;
    size_t count = content.substitutions? json_array_size (content.substitutions): 0;
    char **substitutions = calloc (count + 1, sizeof *substitutions);
    for (size_t i = 0; i < count; i++)
        substitutions [i] = (char *) json_string_value (json_array_get (content.substitutions, i));
    answer.substitutions = substitutions;
    answer.n_substitutions = count;
    int rc = svc_reply_with (reply, &answer.base);
    free (substitutions);
    mail_content_clear (&content);
    return rc;
}

int
template_api_preview (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__PreviewRequest *preview = (Kaiin__Messaging__PreviewRequest *)
        svc_unpack (request, &kaiin__messaging__preview_request__descriptor, reply);
    if (!preview)
        return -1;
    bool failed;
    Kaiin__Messaging__Template *template = template_load (request->db, preview->id, &failed);
    int rc = -1;
    if (failed)
        svc_db_fail (reply, request->db);
    else
    if (!template)
        svc_fail (reply, KAIIN__STATUS__NOT_FOUND, "template not found");
    else {
        rc = s_preview (request, reply, template, preview->member_id);
        protobuf_c_message_free_unpacked (&template->base, NULL);
    }
    protobuf_c_message_free_unpacked (&preview->base, NULL);
    return rc;
}

int
template_api_draft_preview (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Messaging__DraftPreviewRequest *draft = (Kaiin__Messaging__DraftPreviewRequest *)
        svc_unpack (request, &kaiin__messaging__draft_preview_request__descriptor, reply);
    if (!draft)
        return -1;
    Kaiin__Messaging__Template template = KAIIN__MESSAGING__TEMPLATE__INIT;
    template.kind = draft->kind;
    template.subject = draft->subject;
    template.html = draft->html;
    template.text = draft->text;
    s_check (reply, &template, true);
    int rc = reply->status == KAIIN__STATUS__OK? s_preview (request, reply, &template, draft->member_id): -1;
    protobuf_c_message_free_unpacked (&draft->base, NULL);
    return rc;
}
