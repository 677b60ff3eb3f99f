/* billing_http.h - billing's HTTP face: routes, permissions, field rules (common/svc_http.h) */
#ifndef KAIIN_BILLING_HTTP_H
#define KAIIN_BILLING_HTTP_H
#include "svc_http.h"

extern const svc_http_t billing_http;

#endif
