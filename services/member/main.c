/* main.c - kaiin-member: the member record's service */
#include "member_api.h"
#include "member_store.h"
#include "svc.h"

static const svc_method_t s_methods [] = {
    { "Create",   member_api_create },
    { "Get",      member_api_get },
    { "Update",   member_api_update },
    { "Withdraw", member_api_withdraw },
    { "List",     member_api_list },
    { NULL, NULL }
};

int
main (int argc, char **argv)
{
    svc_def_t member = { .name = "member", .methods = s_methods, .prepare = member_store_prepare };
    return svc_main (&member, argc, argv);
}
