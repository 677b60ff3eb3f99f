/* svc_openapi.h - a service's OpenAPI description, generated from the same declarations the
   runtime serves by (svc_http.h's routes, permissions and field rules, protobuf-c descriptors,
   and the comments of the .proto files), sent to the gateway with the routes it describes */
#ifndef KAIIN_SVC_OPENAPI_H
#define KAIIN_SVC_OPENAPI_H
#include "svc.h"
#include <stddef.h>
#include <stdint.h>

/* The comments of the .proto files in proto/, by full name (generated at build time by tools/proto_doc.c:
   build/gen/proto_docs.c). Ends with { NULL }. */
extern const svc_doc_t svc_proto_docs [];

/* The description of name ("kaiin.billing.Plan", "kaiin.billing.Plan.code") from http's own
   docs or svc_proto_docs: borrowed, or NULL when the .proto has no comment for it. */
const char *svc_openapi_doc (const svc_http_t *http, const char *name);

/* The OpenAPI 3.0 "paths" entries of def's routes and the "components/schemas" entries of the
   messages they answer with, each as a JSON object's text into a new string the caller frees
   (*paths and *schemas). They refer to the gateway's own components for what the gateway
   answers itself (problems, X-Request-Id, If-Match, ETag). Returns 0; def->http is not NULL. */
int svc_openapi_fragments (const svc_def_t *def, char **paths, char **schemas);

/* svc_http_announcement with the fragments above in its openapi_paths and openapi_schemas:
   a new buffer the caller frees, its size in *size. */
uint8_t *svc_openapi_announcement (const svc_def_t *def, size_t *size);

#endif
