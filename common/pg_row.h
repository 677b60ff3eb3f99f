/* pg_row.h - a result row into a protobuf message, column by column name */
#ifndef KAIIN_PG_ROW_H
#define KAIIN_PG_ROW_H
#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>

/* Allocates a message of descriptor's type and fills each field named like one of result's
   columns from row: strings, integers, doubles, booleans ('t'/'f'), and repeated strings or integers
   from a PostgreSQL array ("{a,b}"). SQL NULL leaves the field's default. Other fields keep
   their defaults. Free with protobuf_c_message_free_unpacked (message, NULL). */
ProtobufCMessage *pg_row_message (PGresult *result, int row,
                                  const ProtobufCMessageDescriptor *descriptor);

/* Appends a message (owned from now on) to a repeated message field: *items grows. */
void pg_row_append (void ***items, size_t *count, void *item);

#endif
