/* member_http.h - member's HTTP face: routes, permissions, field rules (common/svc_http.h) */
#ifndef KAIIN_MEMBER_HTTP_H
#define KAIIN_MEMBER_HTTP_H
#include "svc_http.h"

extern const svc_http_t member_http;

#endif
