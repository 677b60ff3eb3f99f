/* problem.c - RFC 9457 problem details, and how service statuses map to HTTP */
#include "problem.h"
#include "messages.h"
#include <stdio.h>

static const struct {
    unsigned int status;
    const char *slug;
    const char *title;
} s_problems [] = {
    { 400, "invalid-request", "The request is not valid" },
    { 401, "unauthenticated", "Authentication is required" },
    { 403, "forbidden", "Not allowed" },
    { 404, "not-found", "Not found" },
    { 405, "method-not-allowed", "Method not allowed" },
    { 409, "conflict", "Conflict" },
    { 412, "precondition-failed", "The resource changed" },
    { 413, "payload-too-large", "The request body is too large" },
    { 415, "unsupported-media-type", "Unsupported media type" },
    { 422, "unprocessable", "The request cannot be processed" },
    { 429, "rate-limited", "Too many requests" },
    { 500, "internal", "Internal error" },
    { 501, "not-implemented", "Not implemented" },
    { 502, "bad-gateway", "A service answered badly" },
    { 503, "service-unavailable", "Service unavailable" },
    { 504, "timeout", "The service did not answer in time" },
};

json_t *
problem_new (unsigned int status, const char *detail, const char *instance, const char *request_id,
             bool japanese)
{
    const char *slug = "error", *title = "Error";
    for (size_t i = 0; i < sizeof s_problems / sizeof s_problems [0]; i++)
        if (s_problems [i].status == status) {
            slug = s_problems [i].slug;
            title = s_problems [i].title;
        }
    char type [64];
    snprintf (type, sizeof type, "/problems/%s", slug);
    title = messages_say (japanese, title);
    return json_pack ("{s:s, s:s, s:i, s:s, s:s, s:s}", "type", type, "title", title,
                      "status", (int) status, "detail", detail? messages_say (japanese, detail): title,
                      "instance", instance? instance: "", "request_id", request_id? request_id: "");
}

unsigned int
problem_status_of (Kaiin__Status status)
{
    switch (status) {
        case KAIIN__STATUS__OK:                  return 200;
        case KAIIN__STATUS__INVALID_ARGUMENT:    return 400;
        case KAIIN__STATUS__UNAUTHENTICATED:     return 401;
        case KAIIN__STATUS__PERMISSION_DENIED:   return 403;
        case KAIIN__STATUS__NOT_FOUND:           return 404;
        case KAIIN__STATUS__ALREADY_EXISTS:      return 409;
        case KAIIN__STATUS__FAILED_PRECONDITION: return 409;
        case KAIIN__STATUS__ABORTED:             return 412;
        case KAIIN__STATUS__UNIMPLEMENTED:       return 501;
        case KAIIN__STATUS__UNAVAILABLE:         return 503;
        case KAIIN__STATUS__DEADLINE_EXCEEDED:   return 504;
        default:                                 return 500;
    }
}
