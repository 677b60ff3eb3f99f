/* analytics_http.h - analytics' HTTP face: routes, permissions, field rules */
#ifndef KAIIN_ANALYTICS_HTTP_H
#define KAIIN_ANALYTICS_HTTP_H
#include "svc_http.h"

extern const svc_http_t analytics_http;

#endif
