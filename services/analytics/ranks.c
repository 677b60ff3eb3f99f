/* ranks.c - the rank automation: staff's rules (cumulative spend or purchases ≥ a threshold →
   a member rank), the members they raise, and the member service asked to change them.

   A member found due (the view rank_targets, migration 008) is queued in rank_changes in the
   transaction that found it: a consumer's, as a paid invoice or a registration is read, or the
   rules' save. The tick asks member afterwards, outside any consumer, so a crash neither loses
   a change nor applies one twice (member.RankSet at the same rank changes nothing). The rules
   only raise: member.RankSet is given the ranks a member may be raised from (basic, unless the
   rules place it, and the ranks placed below the target), so a rank staff chose meanwhile, a
   higher one or one outside the rules, is kept. README.md, "Rank automation". */
#include "ranks.h"
#include "analytics.pb-c.h"
#include "log.h"
#include "member.pb-c.h"
#include "pg_row.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RANKS_BATCH "20"
#define RANKS_CALL_MS 5000
#define RANKS_BACKOFF_MAX "9"           /* retries wait 1 s, 2 s, ... 2^9 s */
/* Queues the members which (a condition on rank_targets) the rules raise: $2 now. */
#define RANKS_QUEUE(which) \
    "insert into rank_changes (member_id, queued_at_ms)" \
    " select member_id, $2 from rank_targets where raise and " which \
    " on conflict (member_id) do update set attempts = 0, next_at_ms = 0"

void
ranks_prepare (pg_t *db)
{
    pg_prepare (db, "ranks_queue_one", RANKS_QUEUE ("member_id = $1"));
    pg_prepare (db, "ranks_queue_all", RANKS_QUEUE ("$1::text is null"));
    pg_prepare (db, "ranks_due",
            "select member_id from rank_changes where next_at_ms <= $1::bigint"
            " order by next_at_ms, queued_at_ms, member_id limit " RANKS_BATCH " for update skip locked");
    /* $1 the member: the rank to raise it to, and the ranks it may be raised from */
    pg_prepare (db, "ranks_target",
            "select t.target, array_to_string (array ("
            "   select rank from rank_rules group by rank having min (position) >"
            "     (select min (position) from rank_rules where rank = t.target)"
            "   union select 'basic' where not exists (select 1 from rank_rules where rank = 'basic')), ' ')"
            " from rank_targets t where t.member_id = $1 and t.raise");
    pg_prepare (db, "ranks_done", "delete from rank_changes where member_id = $1");
    pg_prepare (db, "ranks_retry",
            "update rank_changes set attempts = attempts + 1,"
            " next_at_ms = $2::bigint + 1000 * (2 ^ least (attempts, " RANKS_BACKOFF_MAX "))::bigint"
            " where member_id = $1");
    pg_prepare (db, "ranks_rules", "select rank, metric, threshold from rank_rules order by position");
    pg_prepare (db, "ranks_saved", "select updated_at_ms, updated_by from rank_rules_saved");
    pg_prepare (db, "ranks_clear", "delete from rank_rules");
    pg_prepare (db, "ranks_insert",
            "insert into rank_rules (position, rank, metric, threshold) values ($1, $2, $3, $4)");
    pg_prepare (db, "ranks_save", "update rank_rules_saved set updated_at_ms = $1, updated_by = $2");
    pg_prepare (db, "ranks_counts",
            "select r.rank, count (t.member_id) as members, count (*) filter (where t.raise) as raised"
            " from (select rank, min (position) as place from rank_rules group by rank) r"
            " left join rank_targets t on t.target = r.rank group by r.rank, r.place order by r.place");
}

/* Runs a statement and answers how many rows it touched, or -1. */
static int
s_count (pg_t *db, const char *statement, int count, const char *const *params)
{
    PGresult *result = pg_run (db, statement, count, params);
    if (!result)
        return -1;
    int rows = atoi (PQcmdTuples (result));
    PQclear (result);
    return rows;
}

int
ranks_queue (pg_t *db, const char *member_id, int64_t at_ms)
{
    char at [24];
    snprintf (at, sizeof at, "%lld", (long long) at_ms);
    const char *params [] = { member_id, at };
    return pg_defer (db, "ranks_queue_one", 2, params);
}

/* ------------------------------------------------------------------ the tick */

/* Asks member to raise member_id as the rules say now. Returns "ranks_done" when that is
   settled (raised, refused, or no longer due), "ranks_retry" when member did not answer, or
   NULL on a database error. */
static const char *
s_raise (pg_t *db, const char *member_id)
{
    const char *params [] = { member_id };
    PGresult *result = pg_run (db, "ranks_target", 1, params);
    if (!result)
        return NULL;
    if (PQntuples (result) == 0) {
        PQclear (result);
        return "ranks_done";                    /* a refund, a new rule: no longer raised */
    }
    char target [64], from [RANKS_RULES_MAX * 40], *ranks [RANKS_RULES_MAX + 1];
    snprintf (target, sizeof target, "%s", PQgetvalue (result, 0, 0));
    snprintf (from, sizeof from, "%s", PQgetvalue (result, 0, 1));
    PQclear (result);
    size_t count = 0;
    for (char *rank = from, *end; *rank && count < RANKS_RULES_MAX + 1; rank = end) {
        end = rank + strcspn (rank, " ");
        if (*end)
            *end++ = 0;
        ranks [count++] = rank;
    }
    Kaiin__Member__RankSetRequest set = KAIIN__MEMBER__RANK_SET_REQUEST__INIT;
    set.id = (char *) member_id;
    set.rank = target;
    set.from_ranks = ranks;
    set.n_from_ranks = count;
    set.automation = "rank_automation";
    ProtobufCMessage *member = NULL;
    Kaiin__Status status = svc_call ("member.RankSet", &set.base, &kaiin__member__member__descriptor,
                                     &member, RANKS_CALL_MS);
    if (member)
        protobuf_c_message_free_unpacked (member, NULL);
    if (status == KAIIN__STATUS__OK)
        log_info ("rank automation: member '%s' is at rank '%s'", member_id, target);
    else
    if (status == KAIIN__STATUS__UNAVAILABLE || status == KAIIN__STATUS__DEADLINE_EXCEEDED
    ||  status == KAIIN__STATUS__INTERNAL || status == KAIIN__STATUS__ABORTED)
        return "ranks_retry";
    else
        log_warn ("rank automation: member.RankSet of '%s' to '%s' answered %d, dropped",
                  member_id, target, (int) status);
    return "ranks_done";
}

int
ranks_tick (pg_t *db, int64_t now_ms)
{
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) now_ms);
    const char *params [] = { now };
    if (pg_begin (db) == -1)
        return -1;
    PGresult *due = pg_run (db, "ranks_due", 1, params);
    int rows = due? PQntuples (due): 0, rc = due? 0: -1;
    bool answering = true;              /* once member did not answer, the rest wait too */
    for (int row = 0; row < rows && rc == 0; row++) {
        const char *member_id = PQgetvalue (due, row, 0);
        const char *next = answering? s_raise (db, member_id): "ranks_retry";
        answering = answering && next && strcmp (next, "ranks_retry") != 0;
        const char *change [] = { member_id, now };
        rc = next && s_count (db, next, strcmp (next, "ranks_retry") == 0? 2: 1, change) != -1? 0: -1;
    }
    PQclear (due);
    if (rc == -1 || pg_commit (db) == -1) {
        pg_rollback (db);
        return -1;
    }
    return rows;
}

/* ------------------------------------------------------------------ routes */

/* The rules as saved: a new message the caller frees, or NULL on a database error. */
static Kaiin__Analytics__RankRules *
s_load (pg_t *db)
{
    PGresult *result = pg_run (db, "ranks_rules", 0, NULL);
    PGresult *saved = result? pg_run (db, "ranks_saved", 0, NULL): NULL;
    if (!saved) {
        PQclear (result);
        return NULL;
    }
    Kaiin__Analytics__RankRules *rules = (Kaiin__Analytics__RankRules *)
        pg_row_message (saved, 0, &kaiin__analytics__rank_rules__descriptor);
    PQclear (saved);
    for (int row = 0; row < PQntuples (result); row++)
        pg_row_append ((void ***) &rules->rules, &rules->n_rules,
                       pg_row_message (result, row, &kaiin__analytics__rank_rule__descriptor));
    PQclear (result);
    return rules;
}

/* Answers message (then freed), or fails the reply after a database error. Returns 0 or -1. */
static int
s_answer (svc_reply_t *reply, pg_t *db, ProtobufCMessage *message)
{
    if (!message)
        return svc_db_fail (reply, db);
    svc_reply_with (reply, message);
    protobuf_c_message_free_unpacked (message, NULL);
    return 0;
}

int
ranks_api_get (svc_request_t *request, svc_reply_t *reply)
{
    return s_answer (reply, request->db, (ProtobufCMessage *) s_load (request->db));
}

/* Unpacks the rules a request gives and checks them: at most RANKS_RULES_MAX, each rank one of
   member's (the metric and threshold the route's field rules check). NULL after an error. */
static Kaiin__Analytics__RankRules *
s_checked (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__RankRules *rules = (Kaiin__Analytics__RankRules *)
        svc_unpack (request, &kaiin__analytics__rank_rules__descriptor, reply);
    if (!rules)
        return NULL;
    if (rules->n_rules > RANKS_RULES_MAX)
        svc_field_error (reply, "rules", "must have at most %d rules", RANKS_RULES_MAX);
    Kaiin__Member__RankListRequest ask = KAIIN__MEMBER__RANK_LIST_REQUEST__INIT;
    Kaiin__Member__RankListReply *known = NULL;
    Kaiin__Status status = reply->status == KAIIN__STATUS__OK
        ? svc_call ("member.RankList", &ask.base, &kaiin__member__rank_list_reply__descriptor,
                    (ProtobufCMessage **) &known, RANKS_CALL_MS)
        : KAIIN__STATUS__OK;
    if (status != KAIIN__STATUS__OK)
        svc_fail (reply, KAIIN__STATUS__UNAVAILABLE, "the member service did not answer");
    for (size_t i = 0; known && i < rules->n_rules; i++) {
        size_t k = 0;
        while (k < known->n_ranks && strcmp (known->ranks [k]->code, rules->rules [i]->rank) != 0)
            k++;
        char field [48];
        snprintf (field, sizeof field, "rules[%zu].rank", i);
        if (k == known->n_ranks)
            svc_field_error (reply, field, "is not a member rank (GET /v1/member-ranks)");
    }
    if (known)
        protobuf_c_message_free_unpacked (&known->base, NULL);
    if (reply->status != KAIIN__STATUS__OK) {
        protobuf_c_message_free_unpacked (&rules->base, NULL);
        return NULL;
    }
    return rules;
}

/* Fails the reply after a database error in an open transaction (as that error says), then
   rolls the transaction back. Returns -1. */
static int
s_fail_rollback (svc_reply_t *reply, pg_t *db)
{
    svc_db_fail (reply, db);
    pg_rollback (db);
    return -1;
}

/* Checks the rules the request gives (s_checked) and, in a transaction it opens, writes them
   in place of the rules. Returns 0 with the transaction open, or -1 after failing the reply. */
static int
s_begin_replace (svc_request_t *request, svc_reply_t *reply)
{
    Kaiin__Analytics__RankRules *rules = s_checked (request, reply);
    if (!rules)
        return -1;
    pg_t *db = request->db;
    int rc = pg_begin (db) == 0? s_count (db, "ranks_clear", 0, NULL): -2;
    for (size_t i = 0; rc >= 0 && i < rules->n_rules; i++) {
        char position [24], threshold [24];
        snprintf (position, sizeof position, "%zu", i + 1);
        snprintf (threshold, sizeof threshold, "%lld", (long long) rules->rules [i]->threshold);
        const char *params [] = { position, rules->rules [i]->rank, rules->rules [i]->metric, threshold };
        rc = s_count (db, "ranks_insert", 4, params);
    }
    protobuf_c_message_free_unpacked (&rules->base, NULL);
    return rc == -2? svc_db_fail (reply, db): rc == -1? s_fail_rollback (reply, db): 0;
}

int
ranks_api_update (svc_request_t *request, svc_reply_t *reply)
{
    if (s_begin_replace (request, reply) == -1)
        return -1;
    pg_t *db = request->db;
    char now [24];
    snprintf (now, sizeof now, "%lld", (long long) request->envelope->now_ms);
    const char *saved [] = { now, request->envelope->caller_id };
    const char *everyone [] = { NULL, now };
    int queued = s_count (db, "ranks_save", 2, saved) != -1? s_count (db, "ranks_queue_all", 2, everyone): -1;
    if (queued == -1 || pg_commit (db) == -1)
        return s_fail_rollback (reply, db);
    log_info ("rank rules saved by '%s': %d members queued to be raised", request->envelope->caller_id, queued);
    Kaiin__Analytics__RankRules *answer = s_load (db);
    if (answer)
        answer->queued = queued;
    return s_answer (reply, db, (ProtobufCMessage *) answer);
}

int
ranks_api_preview (svc_request_t *request, svc_reply_t *reply)
{
    /* The rules given, in a transaction rolled back: the counts by the very view the
       automation reads. */
    if (s_begin_replace (request, reply) == -1)
        return -1;
    pg_t *db = request->db;
    PGresult *result = pg_run (db, "ranks_counts", 0, NULL);
    if (!result)
        return s_fail_rollback (reply, db);
    Kaiin__Analytics__RankPreview *preview = malloc (sizeof *preview);
    kaiin__analytics__rank_preview__init (preview);
    for (int row = 0; row < PQntuples (result); row++)
        pg_row_append ((void ***) &preview->ranks, &preview->n_ranks,
                       pg_row_message (result, row, &kaiin__analytics__rank_count__descriptor));
    PQclear (result);
    pg_rollback (db);
    return s_answer (reply, db, &preview->base);
}
