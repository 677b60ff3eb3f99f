/* attribute_routes.c - /v1/member-attributes and /v1/member-ranks: what the business defines
   for its member record */
#include "attribute_routes.h"
#include "json_in.h"
#include "member.pb-c.h"
#include <stdio.h>
#include <string.h>

static const char *const s_json [] = { "application/json", NULL };

static json_t *
s_definition_json (const Kaiin__Member__AttributeDefinition *definition)
{
    json_t *options = json_array ();
    for (size_t i = 0; i < definition->n_options; i++)
        json_array_append_new (options, json_string (definition->options [i]));
    return json_pack ("{s:s, s:s, s:s, s:o, s:b, s:o}", "key", definition->key,
                      "label", definition->label, "type", definition->type, "options", options,
                      "required", definition->required,
                      "created_at", json_in_time_or_null (definition->created_at_ms));
}

static json_t *
s_rank_json (const Kaiin__Member__Rank *rank)
{
    return json_pack ("{s:s, s:s, s:o}", "code", rank->code, "label", rank->label,
                      "created_at", json_in_time_or_null (rank->created_at_ms));
}

static void
s_on_list (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Member__AttributeListReply *list = (Kaiin__Member__AttributeListReply *) http_unpack (request, &kaiin__member__attribute_list_reply__descriptor, payload);
    if (!list)
        return;
    json_t *data = json_array ();
    for (size_t i = 0; i < list->n_attributes; i++)
        json_array_append_new (data, s_definition_json (list->attributes [i]));
    http_respond_json (request, 200, json_pack ("{s:o}", "data", data));
    kaiin__member__attribute_list_reply__free_unpacked (list, NULL);
}

void
attribute_routes_list (http_request_t *request)
{
    Kaiin__Member__AttributeListRequest list = KAIIN__MEMBER__ATTRIBUTE_LIST_REQUEST__INIT;
    http_call (request, "member", "member.AttributeList", &list.base, s_on_list);
}

static void
s_on_defined (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Member__AttributeDefinition *definition = (Kaiin__Member__AttributeDefinition *) http_unpack (request, &kaiin__member__attribute_definition__descriptor, payload);
    if (!definition)
        return;
    snprintf (request->location, sizeof request->location, "/v1/member-attributes/%s", definition->key);
    http_respond_json (request, 201, s_definition_json (definition));
    kaiin__member__attribute_definition__free_unpacked (definition, NULL);
}

void
attribute_routes_define (http_request_t *request)
{
    json_t *body = json_in_object (request, s_json, false);
    if (!body)
        return;
    static const char *const fields [] = { "key", "label", "type", "options", "required", NULL };
    json_t *errors = json_array ();
    json_in_known_keys (body, fields, errors);
    Kaiin__Member__AttributeDefinition definition = KAIIN__MEMBER__ATTRIBUTE_DEFINITION__INIT;
    char **values [] = { &definition.key, &definition.label, &definition.type };
    for (int i = 0; i < 3; i++) {
        bool present;
        *values [i] = (char *) json_in_string (body, fields [i], false, &present, errors);
        if (!present)
            json_in_error (errors, fields [i], "is required");
    }
    char *options [100];
    json_t *given = json_object_get (body, "options");
    if (given && !json_is_null (given)) {
        if (!json_is_array (given) || json_array_size (given) > 100)
            json_in_error (errors, "options", "must be an array of at most 100 strings");
        else {
            size_t index;
            json_t *option;
            json_array_foreach (given, index, option) {
                if (!json_is_string (option)
                ||  strlen (json_string_value (option)) != json_string_length (option)) {
                    json_in_error (errors, "options", "must hold only strings");
                    break;
                }
                options [definition.n_options++] = (char *) json_string_value (option);
            }
        }
    }
    definition.options = options;
    json_t *required = json_object_get (body, "required");
    if (required && !json_is_boolean (required))
        json_in_error (errors, "required", "must be true or false");
    definition.required = json_is_true (required);
    if (!json_in_rejected (request, errors))
        http_call (request, "member", "member.AttributeDefine", &definition.base, s_on_defined);
    json_decref (body);
}

static void
s_on_ranks (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Member__RankListReply *list = (Kaiin__Member__RankListReply *) http_unpack (request, &kaiin__member__rank_list_reply__descriptor, payload);
    if (!list)
        return;
    json_t *data = json_array ();
    for (size_t i = 0; i < list->n_ranks; i++)
        json_array_append_new (data, s_rank_json (list->ranks [i]));
    http_respond_json (request, 200, json_pack ("{s:o}", "data", data));
    kaiin__member__rank_list_reply__free_unpacked (list, NULL);
}

void
attribute_routes_ranks (http_request_t *request)
{
    Kaiin__Member__RankListRequest list = KAIIN__MEMBER__RANK_LIST_REQUEST__INIT;
    http_call (request, "member", "member.RankList", &list.base, s_on_ranks);
}

static void
s_on_rank (http_request_t *request, const ProtobufCBinaryData *payload)
{
    Kaiin__Member__Rank *rank = (Kaiin__Member__Rank *) http_unpack (request, &kaiin__member__rank__descriptor, payload);
    if (!rank)
        return;
    snprintf (request->location, sizeof request->location, "/v1/member-ranks/%s", rank->code);
    http_respond_json (request, 201, s_rank_json (rank));
    kaiin__member__rank__free_unpacked (rank, NULL);
}

void
attribute_routes_add_rank (http_request_t *request)
{
    json_t *body = json_in_object (request, s_json, false);
    if (!body)
        return;
    static const char *const fields [] = { "code", "label", NULL };
    json_t *errors = json_array ();
    json_in_known_keys (body, fields, errors);
    Kaiin__Member__Rank rank = KAIIN__MEMBER__RANK__INIT;
    rank.code = json_in_required (body, "code", errors);
    rank.label = json_in_required (body, "label", errors);
    if (!json_in_rejected (request, errors))
        http_call (request, "member", "member.RankCreate", &rank.base, s_on_rank);
    json_decref (body);
}
