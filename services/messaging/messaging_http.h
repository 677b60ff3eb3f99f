/* messaging_http.h - messaging's HTTP face (common/svc_http.h) */
#ifndef KAIIN_MESSAGING_HTTP_H
#define KAIIN_MESSAGING_HTTP_H
#include "svc_http.h"

extern const svc_http_t messaging_http;

#endif
