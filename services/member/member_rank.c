/* member_rank.c - member.RankSet: another service's automation moving a member's rank (the
   rank automation of analytics), only from the ranks it names, audited as that automation */
#include "member_rank.h"
#include "audit.h"
#include "member_record.h"
#include <string.h>

#define AUTOMATION_MAX 32

/* True when name is [a-z_]{1,32}. */
static bool
s_automation_ok (const char *name)
{
    size_t length = strlen (name);
    return length >= 1 && length <= AUTOMATION_MAX && strspn (name, "abcdefghijklmnopqrstuvwxyz_") == length;
}

/* True when rank is one of set's from_ranks. */
static bool
s_from (const Kaiin__Member__RankSetRequest *set, const char *rank)
{
    for (size_t i = 0; i < set->n_from_ranks; i++)
        if (strcmp (set->from_ranks [i], rank) == 0)
            return true;
    return false;
}

int
member_api_rank_set (svc_request_t *request, svc_reply_t *reply)
{
    const char *caller = request->envelope->caller_id;
    if (strcmp (request->envelope->caller_role, "service") != 0 || strncmp (caller, "service:", 8) != 0)
        return svc_fail (reply, KAIIN__STATUS__PERMISSION_DENIED, "only services may call member.RankSet");
    Kaiin__Member__RankSetRequest *set = (Kaiin__Member__RankSetRequest *)
        svc_unpack (request, &kaiin__member__rank_set_request__descriptor, reply);
    if (!set)
        return -1;
    if (!s_automation_ok (set->automation))
        svc_field_error (reply, "automation", "must be 1 to %d of a-z and _", AUTOMATION_MAX);
    int rc = -1;
    Kaiin__Member__Member *member = NULL;
    if (!member_id_ok (reply, set->id, "no such member"))
        goto done;
    member_rc_t read = member_record_get (request->db, set->id, &member);
    if (read != MEMBER_OK) {
        rc = member_record_answer (request, reply, read, NULL);
        goto done;
    }
    if (strcmp (member->rank, set->rank) == 0) {
        rc = member_record_answer (request, reply, MEMBER_OK, member);       /* done before */
        member = NULL;
        goto done;
    }
    if (strcmp (member->status, "withdrawn") == 0 || !s_from (set, member->rank)) {
        rc = svc_fail (reply, KAIIN__STATUS__FAILED_PRECONDITION,
                       "the member's rank '%s' is not one this change may leave", member->rank);
        goto done;
    }
    char *mask [] = { "rank" };
    Kaiin__Member__UpdateRequest update = KAIIN__MEMBER__UPDATE_REQUEST__INIT;
    update.id = set->id;
    update.if_version = member->version;
    update.update_mask = mask;
    update.n_update_mask = 1;
    update.rank = set->rank;
    char actor_id [96];
    snprintf (actor_id, sizeof actor_id, "%s:%s", caller + 8, set->automation);
    audit_actor_t actor = audit_actor_of (request, member_now (request));
    actor.actor_id = actor_id;
    protobuf_c_message_free_unpacked (&member->base, NULL);
    member = NULL;
    member_rc_t written = member_record_update (request->db, &update, &actor, &member);
    rc = member_record_answer (request, reply, written, member);
    member = NULL;
done:
    if (member)
        protobuf_c_message_free_unpacked (&member->base, NULL);
    protobuf_c_message_free_unpacked (&set->base, NULL);
    return rc;
}
