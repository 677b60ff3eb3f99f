/* proto_doc.c - the comments of .proto files as a C table, for the OpenAPI document: reads the
   FileDescriptorSet that `protoc-c --include_source_info --descriptor_set_out` writes (protoc-c
   keeps no comments in the code it generates) and prints a svc_doc_t array (svc_http.h) of
   each message's, field's, enum's and enum value's comment, by full name.
   Usage: proto_doc <descriptor set> <array name> > docs.c */
#include "descriptor.pb-c.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_DEPTH 32
#define NAME_MAX_SIZE 512

typedef KaiinTools__SourceCodeInfo__Location location_t;

/* What one file's walk needs: its locations, and where it prints. */
typedef struct {
    const KaiinTools__SourceCodeInfo *info;
    FILE *out;
} s_walk_t;

/* The location of exactly path, or NULL. */
static const location_t *
s_location (const s_walk_t *walk, const int *path, size_t depth)
{
    for (size_t i = 0; walk->info && i < walk->info->n_location; i++) {
        const location_t *location = walk->info->location [i];
        if (location->n_path == depth && memcmp (location->path, path, depth * sizeof *path) == 0)
            return location;
    }
    return NULL;
}

/* Prints text as the inside of a C string, its lines joined by single spaces ("// " and the
   indentation of each line gone). Returns the characters printed. */
static size_t
s_print_text (FILE *out, const char *text, size_t printed)
{
    for (const char *at = text; text && *at; at++) {
        unsigned char c = (unsigned char) *at;
        if (c == '\n' || c == ' ' || c == '\t') {
            while (at [1] == ' ' || at [1] == '\t' || at [1] == '\n')
                at++;
            if (printed && at [1])
                printed += (size_t) fprintf (out, " ");
            continue;
        }
        if (c == '"' || c == '\\' || c == '?')          /* '?': no trigraphs */
            printed += (size_t) fprintf (out, "\\%c", c);
        else
        if (c < 0x20)
            printed += (size_t) fprintf (out, "\\%03o", c);
        else {
            fputc (c, out);
            printed++;
        }
    }
    return printed;
}

/* Prints the table's row for name when path has a comment. */
static void
s_row (const s_walk_t *walk, const char *name, const int *path, size_t depth)
{
    const location_t *location = s_location (walk, path, depth);
    if (!location || (!location->leading_comments && !location->trailing_comments))
        return;
    fprintf (walk->out, "    { \"%s\", \"", name);
    size_t printed = s_print_text (walk->out, location->leading_comments, 0);
    s_print_text (walk->out, location->trailing_comments, printed);
    fprintf (walk->out, "\" },\n");
}

/* Prints the row of scope's item name, at path's depth as (tag, index), when it has a comment;
   the item's full name into full (when not NULL). */
static void
s_item (const s_walk_t *walk, const char *scope, const char *name, int *path, size_t depth,
        int tag, size_t index, char full [NAME_MAX_SIZE])
{
    char own [NAME_MAX_SIZE];
    snprintf (full? full: own, NAME_MAX_SIZE, "%s.%s", scope, name);
    path [depth] = tag;
    path [depth + 1] = (int) index;
    s_row (walk, full? full: own, path, depth + 2);
}

/* An enum at path and its values. */
static void
s_enum (const s_walk_t *walk, const KaiinTools__EnumDescriptorProto *type, const char *scope,
        int *path, size_t depth, int tag, size_t index)
{
    char name [NAME_MAX_SIZE];
    s_item (walk, scope, type->name, path, depth, tag, index, name);
    for (size_t i = 0; i < type->n_value && depth + 4 <= PATH_MAX_DEPTH; i++)
        s_item (walk, name, type->value [i]->name, path, depth + 2, 2, i, NULL);
}

/* A message at path: its fields, nested messages and enums. */
static void
s_message (const s_walk_t *walk, const KaiinTools__DescriptorProto *message, const char *scope,
           int *path, size_t depth, int tag, size_t index)
{
    char name [NAME_MAX_SIZE];
    s_item (walk, scope, message->name, path, depth, tag, index, name);
    if (depth + 4 > PATH_MAX_DEPTH)
        return;
    for (size_t i = 0; i < message->n_field; i++)
        s_item (walk, name, message->field [i]->name, path, depth + 2, 2, i, NULL);
    for (size_t i = 0; i < message->n_nested_type; i++)
        s_message (walk, message->nested_type [i], name, path, depth + 2, 3, i);
    for (size_t i = 0; i < message->n_enum_type; i++)
        s_enum (walk, message->enum_type [i], name, path, depth + 2, 4, i);
}

int
main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: proto_doc <descriptor set> <array name>\n");
        return 2;
    }
    FILE *file = fopen (argv [1], "rb");
    if (!file) {
        fprintf (stderr, "proto_doc: cannot open '%s'\n", argv [1]);
        return 1;
    }
    size_t size = 0, allocated = 1 << 16;
    uint8_t *data = malloc (allocated);
    for (size_t got; data && (got = fread (data + size, 1, allocated - size, file)) > 0; ) {
        size += got;
        if (size == allocated)
            data = realloc (data, allocated *= 2);
    }
    fclose (file);
    KaiinTools__FileDescriptorSet *set = data
        ? kaiin_tools__file_descriptor_set__unpack (NULL, size, data): NULL;
    free (data);
    if (!set) {
        fprintf (stderr, "proto_doc: '%s' is not a descriptor set\n", argv [1]);
        return 1;
    }
    printf ("/* generated by tools/proto_doc from %s: do not edit */\n"
            "#include \"svc_http.h\"\n\nconst svc_doc_t %s [] = {\n", argv [1], argv [2]);
    for (size_t i = 0; i < set->n_file; i++) {
        const KaiinTools__FileDescriptorProto *proto = set->file [i];
        s_walk_t walk = { proto->source_code_info, stdout };
        const char *package = proto->package? proto->package: "";
        int path [PATH_MAX_DEPTH];
        for (size_t j = 0; j < proto->n_message_type; j++)
            s_message (&walk, proto->message_type [j], package, path, 0, 4, j);
        for (size_t j = 0; j < proto->n_enum_type; j++)
            s_enum (&walk, proto->enum_type [j], package, path, 0, 5, j);
    }
    printf ("    { NULL, NULL }\n};\n");
    kaiin_tools__file_descriptor_set__free_unpacked (set, NULL);
    return ferror (stdout)? 1: 0;
}
