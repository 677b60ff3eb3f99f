/* pg_row.c - a result row into a protobuf message, column by column name */
#include "pg_row.h"
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Splits a one-dimensional array literal of plain elements ({a,b,"c d"}) into strdup'ed
   items. Returns the count. */
static size_t
s_array_items (const char *text, char ***items_p)
{
    char **items = NULL;
    size_t count = 0;
    if (*text == '{')
        text++;
    while (*text && *text != '}') {
        char item [1024];
        size_t used = 0;
        bool quoted = *text == '"';
        if (quoted)
            text++;
        while (*text && (quoted? *text != '"': (*text != ',' && *text != '}'))) {
            if (quoted && *text == '\\' && text [1])
                text++;
            if (used < sizeof item - 1)
                item [used++] = *text;
            text++;
        }
        if (quoted && *text == '"')
            text++;
        item [used] = 0;
        items = realloc (items, (count + 1) * sizeof *items);
        assert (items);
        items [count++] = strdup (item);
        if (*text == ',')
            text++;
    }
    *items_p = items;
    return count;
}

static void
s_set_field (ProtobufCMessage *message, const ProtobufCFieldDescriptor *field, const char *text)
{
    char *base = (char *) message;
    void *member = base + field->offset;
    if (field->label == PROTOBUF_C_LABEL_REPEATED) {
        char **items;
        size_t count = s_array_items (text, &items);
        size_t *quantifier = (size_t *) (base + field->quantifier_offset);
        if (field->type == PROTOBUF_C_TYPE_STRING) {
            *(char ***) member = items;
            *quantifier = count;
            return;
        }
        if (field->type == PROTOBUF_C_TYPE_INT32 || field->type == PROTOBUF_C_TYPE_INT64) {
            bool wide = field->type == PROTOBUF_C_TYPE_INT64;     /* bigint [] */
            char *values = count? malloc (count * (wide? sizeof (int64_t): sizeof (int32_t))): NULL;
            for (size_t i = 0; i < count; i++) {
                long long value = strtoll (items [i], NULL, 10);
                if (wide)
                    ((int64_t *) values) [i] = value;
                else
                    ((int32_t *) values) [i] = (int32_t) value;
                free (items [i]);
            }
            free (items);
            *(char **) member = values;
            *quantifier = count;
            return;
        }
        for (size_t i = 0; i < count; i++)
            free (items [i]);
        free (items);
        return;
    }
    switch (field->type) {
        case PROTOBUF_C_TYPE_STRING:
            *(char **) member = strdup (text);
            break;
        case PROTOBUF_C_TYPE_INT64:
            *(int64_t *) member = strtoll (text, NULL, 10);
            break;
        case PROTOBUF_C_TYPE_INT32:
            *(int32_t *) member = (int32_t) strtol (text, NULL, 10);
            break;
        case PROTOBUF_C_TYPE_BOOL:
            *(protobuf_c_boolean *) member = *text == 't';
            break;
        case PROTOBUF_C_TYPE_DOUBLE:
            *(double *) member = strtod (text, NULL);
            break;
        default:
            break;
    }
}

ProtobufCMessage *
pg_row_message (PGresult *result, int row, const ProtobufCMessageDescriptor *descriptor)
{
    ProtobufCMessage *message = malloc (descriptor->sizeof_message);
    assert (message);
    descriptor->message_init (message);
    int columns = PQnfields (result);
    for (int column = 0; column < columns; column++) {
        if (PQgetisnull (result, row, column))
            continue;
        const ProtobufCFieldDescriptor *field =
            protobuf_c_message_descriptor_get_field_by_name (descriptor, PQfname (result, column));
        if (field)
            s_set_field (message, field, PQgetvalue (result, row, column));
    }
    return message;
}

void
pg_row_append (void ***items, size_t *count, void *item)
{
    *items = realloc (*items, (*count + 1) * sizeof **items);
    assert (*items);
    (*items) [(*count)++] = item;
}
