/* scenario.h - automations' scenarios: their steps (wait, send, tag, branch) and exit goal
   checked, members entering a run on each trigger occurrence, runs ended by the goal, and the
   tick advancing one run one step per transaction */
#ifndef KAIIN_MESSAGING_SCENARIO_H
#define KAIIN_MESSAGING_SCENARIO_H
#include "messaging.h"
#include <jansson.h>

#define SCENARIO_STEPS_MAX 50

void scenario_prepare (pg_t *db);

/* Adds a field error, named by its path from "scenario" ("scenario.steps[2].wait.at"), for each
   thing wrong in scenario (borrowed: the JSON object a client gave), the templates its send
   steps name included, and what a send step attaches against the trigger (source, event_type).
   Returns 0, or -1 on a database error (set on reply). */
int scenario_check (svc_request_t *request, svc_reply_t *reply, json_t *scenario,
                    const char *source, const char *event_type);

/* The one-step scenario "wait delay_minutes (when > 0), send template_id", as JSON text the
   caller frees. */
char *scenario_one_step (const char *template_id, int64_t delay_minutes);

/* Saves automation id's scenario of version (JSON text) as that version, which the runs that
   enter from now on follow, inside the caller's transaction. Returns 0 or -1. */
int scenario_save_version (pg_t *db, const char *automation_id, int64_t version, const char *scenario);

/* A run that waits somewhere takes its member once at a time (automation_runs_active); one that
   never waits runs for every occurrence (two receipts, two password resets in one second). */
#define SCENARIO_EXCLUSIVE "jsonb_path_exists (a.scenario, '$.**.wait')"

/* The statement (for the consumer's own, trigger.c) that enters member $4 into a run of every
   active automation the event triggers — its source $1 and type $2, starts_at at or before
   the event's time $3 (ms), nth 0 or the member's count of the event, the SQL expression NTH —
   unless the member has a run of it still active; event $5, its variables the jsonb
   expression VARIABLES, the time $7 (ms). */
#define SCENARIO_ENTER(NTH, VARIABLES) \
    "insert into automation_runs (automation_id, version, member_id, event_id, event_json," \
    " entered_at_ms, due_at_ms, updated_at_ms, exclusive)" \
    " select a.id, a.version, $4, $5, " VARIABLES ", $3, $3, $7, " SCENARIO_EXCLUSIVE \
    " from automations a where a.active and a.source = $1 and a.event_type = $2" \
    " and a.starts_at_ms <= $3 and (a.nth = 0 or a.nth = " NTH ") on conflict do nothing"

/* Ends (status goal) the member's active runs whose version's goal is the event's source and
   type, entered before it. Returns 0 or -1. */
int scenario_goal (pg_t *db, const Kaiin__Event *event, const char *member_id, int64_t now_ms);

/* Enters the members of the events already consumed that occurred at or after automation id's
   starts_at into runs (nth as for new events), inside the caller's transaction. Returns how
   many, or -1. */
int scenario_backfill (pg_t *db, const char *automation_id, int64_t now_ms);

/* Runs the next step of a batch of due runs, the earliest due first (svc_tick_fn): locks them
   (skipping those another thread holds), does each one's step (a send queues its mail, a tag
   leases its run a minute), moves each on, commits once; then asks member.Tag for the tag
   steps, outside any transaction, and moves those runs on. Returns how many it ran, 0 when
   none is due, -1 on a database error (the batch rolled back: every run of it is due again;
   or a tagged run not moved on: its step runs again when its lease is over). */
int scenario_tick (pg_t *db, int64_t now_ms);

#endif
