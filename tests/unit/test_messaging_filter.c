/* test_messaging_filter.c - segments' filters: the SQL and parameters a filter compiles to, and
   the path and reason of each bad node (filter.c is included, as h2o's unit tests do). The
   expected SQL is written out by hand. */
#include "check.h"
#include "../../services/messaging/filter.c"

#define NOW_MS 1775000000000LL          /* 2026-03-31T23:33:20Z */
#define DAY 86400000LL

/* filter (JSON) compiles to sql with params (JSON); else says what it got. */
static bool
s_compiles (const char *filter_json, const char *sql, const char *params)
{
    json_t *filter = json_loads (filter_json, 0, NULL);
    filter_sql_t out;
    pb_json_errors_t errors;
    bool same = false;
    if (filter_compile (filter, NOW_MS, &out, &errors, false) == 0) {
        same = strcmp (out.sql, sql) == 0 && strcmp (out.params, params) == 0;
        if (!same)
            fprintf (stderr, "compiled\n  %s\n  %s\nexpected\n  %s\n  %s\n", out.sql, out.params, sql, params);
        filter_sql_clear (&out);
    }
    else
        fprintf (stderr, "'%s' did not compile: %s: %s\n", filter_json, errors.list [0].field,
                 errors.list [0].reason);
    json_decref (filter);
    return same;
}

/* filter (JSON) is refused, its first error naming field with reason. */
static bool
s_refused (const char *filter_json, const char *field, const char *reason)
{
    json_t *filter = json_loads (filter_json, JSON_DECODE_ANY, NULL);
    filter_sql_t out;
    pb_json_errors_t errors;
    bool same = false;
    if (filter_compile (filter, NOW_MS, &out, &errors, false) == 0) {
        fprintf (stderr, "'%s' compiled: %s\n", filter_json, out.sql);
        filter_sql_clear (&out);
    }
    else {
        same = strcmp (errors.list [0].field, field) == 0 && strcmp (errors.list [0].reason, reason) == 0;
        if (!same)
            fprintf (stderr, "'%s': %s: %s\n", filter_json, errors.list [0].field, errors.list [0].reason);
    }
    json_decref (filter);
    return same;
}

int
main (void)
{
    /* premium, consented, not withdrawn */
    CHECK (s_compiles ("{\"and\": [{\"field\": \"rank\", \"op\": \"eq\", \"value\": \"premium\"},"
                       " {\"field\": \"marketing_consent\", \"op\": \"eq\", \"value\": true},"
                       " {\"not\": {\"field\": \"status\", \"op\": \"eq\", \"value\": \"withdrawn\"}}]}",
                       "(m.rank = ($1 ->> 0) and m.marketing and not (m.status = ($1 ->> 1)))",
                       "[\"premium\",\"withdrawn\"]"));
    CHECK (s_compiles ("{\"field\": \"marketing_consent\", \"op\": \"eq\", \"value\": false}",
                       "not (m.marketing)", "[]"));
    CHECK (s_compiles ("{\"or\": [{\"field\": \"status\", \"op\": \"in\", \"value\": [\"free\", \"paid\"]},"
                       " {\"field\": \"rank\", \"op\": \"not_in\", \"value\": [\"basic\"]}]}",
                       "(m.status = any (array[($1 ->> 0), ($1 ->> 1)]) or m.rank <> all (array[($1 ->> 2)]))",
                       "[\"free\",\"paid\",\"basic\"]"));
    /* tags */
    CHECK (s_compiles ("{\"field\": \"tags\", \"op\": \"has\", \"value\": \"vip\"}",
                       "m.tags @> array[($1 ->> 0)]", "[\"vip\"]"));
    CHECK (s_compiles ("{\"field\": \"tags\", \"op\": \"has_any\", \"value\": [\"a\", \"b\"]}",
                       "m.tags && array[($1 ->> 0), ($1 ->> 1)]", "[\"a\",\"b\"]"));
    CHECK (s_compiles ("{\"field\": \"tags\", \"op\": \"has_all\", \"value\": [\"a\"]}",
                       "m.tags @> array[($1 ->> 0)]", "[\"a\"]"));
    /* attributes: the key is a parameter too; equality as JSON, order as a number or as text */
    CHECK (s_compiles ("{\"field\": \"attributes.plan_year\", \"op\": \"eq\", \"value\": 2026}",
                       "m.attributes -> ($1 ->> 0) = ($1 -> 1)", "[\"plan_year\",2026]"));
    CHECK (s_compiles ("{\"field\": \"attributes.city\", \"op\": \"in\", \"value\": [\"大阪\", true]}",
                       "m.attributes -> ($1 ->> 0) = any (array[($1 -> 1), ($1 -> 2)])",
                       "[\"city\",\"大阪\",true]"));
    CHECK (s_compiles ("{\"field\": \"attributes.score\", \"op\": \"gte\", \"value\": 3.5}",
                       "case when jsonb_typeof (m.attributes -> ($1 ->> 0)) = 'number' then"
                       " (m.attributes ->> ($1 ->> 1))::numeric end >= (($1 ->> 2))::numeric",
                       "[\"score\",\"score\",3.5]"));
    CHECK (s_compiles ("{\"field\": \"attributes.joined\", \"op\": \"lt\", \"value\": \"2024-01-01\"}",
                       "case when jsonb_typeof (m.attributes -> ($1 ->> 0)) = 'string' then"
                       " m.attributes ->> ($1 ->> 1) end collate \"C\" < ($1 ->> 2)",
                       "[\"joined\",\"joined\",\"2024-01-01\"]"));
    CHECK (s_compiles ("{\"field\": \"attributes.note\", \"op\": \"exists\", \"value\": false}",
                       "not (m.attributes ? ($1 ->> 0))", "[\"note\"]"));
    /* plans: a subscription that is trialing, active or past due */
    CHECK (s_compiles ("{\"field\": \"plan\", \"op\": \"eq\", \"value\": \"gold\"}",
                       "exists (select 1 from member_plans p where p.member_id = m.id and p.status in"
                       " ('trialing', 'active', 'past_due') and p.plan_code = ($1 ->> 0))", "[\"gold\"]"));
    CHECK (s_compiles ("{\"field\": \"plan\", \"op\": \"exists\", \"value\": true}",
                       "exists (select 1 from member_plans p where p.member_id = m.id and p.status in"
                       " ('trialing', 'active', 'past_due'))", "[]"));
    /* times: an RFC 3339 time as Unix milliseconds; days back from now */
    CHECK (s_compiles ("{\"field\": \"signed_up_at\", \"op\": \"before\", \"value\": \"2026-04-01T09:00:00+09:00\"}",
                       "(m.created_at_ms > 0 and m.created_at_ms < (($1 ->> 0))::bigint)", "[1775001600000]"));
    CHECK (s_compiles ("{\"field\": \"last_login_at\", \"op\": \"not_within_days\", \"value\": 10}",
                       "m.last_login_at_ms < (($1 ->> 0))::bigint", "[1774136000000]"));
    CHECK (NOW_MS - 10 * DAY == 1774136000000LL);
    CHECK (s_compiles ("{\"field\": \"last_login_at\", \"op\": \"exists\", \"value\": false}",
                       "not (m.last_login_at_ms > 0)", "[]"));
    /* numbers from billing's and analytics' events */
    CHECK (s_compiles ("{\"and\": [{\"field\": \"purchase_count\", \"op\": \"gte\", \"value\": 10},"
                       " {\"field\": \"purchase_total\", \"op\": \"lt\", \"value\": 50000},"
                       " {\"field\": \"churn_risk\", \"op\": \"gt\", \"value\": 60}]}",
                       "(coalesce (f.purchase_count, 0) >= (($1 ->> 0))::bigint and"
                       " coalesce (f.purchase_total, 0) < (($1 ->> 1))::bigint and"
                       " coalesce (f.churn_risk, 0) > (($1 ->> 2))::bigint)", "[10,50000,60]"));
    /* a value that would break out of SQL stays a parameter */
    CHECK (s_compiles ("{\"field\": \"rank\", \"op\": \"eq\", \"value\": \"x'); drop table members; --\"}",
                       "m.rank = ($1 ->> 0)", "[\"x'); drop table members; --\"]"));

    /* bad nodes, named by their path */
    CHECK (s_refused ("[]", "filter", "must be an object: {\"and\": [...]}, {\"or\": [...]},"
                      " {\"not\": {...}} or {\"field\": ..., \"op\": ..., \"value\": ...}"));
    CHECK (s_refused ("{\"and\": []}", "filter.and", "must be an array of 1 to 100 filters"));
    CHECK (s_refused ("{\"and\": [{\"field\": \"rank\", \"op\": \"eq\", \"value\": \"a\"},"
                      " {\"or\": [{\"field\": \"rnk\", \"op\": \"eq\", \"value\": \"a\"}]}]}",
                      "filter.and[1].or[0].field",
                      "must be one of status, rank, tags, attributes.<key>, plan, signed_up_at,"
                      " last_login_at, purchase_count, purchase_total, churn_risk, loyalty_segment, marketing_consent"));
    CHECK (s_refused ("{\"not\": {\"field\": \"tags\", \"op\": \"eq\", \"value\": \"a\"}}",
                      "filter.not.op", "must be an operator of tags: has, has_any, has_all"));
    CHECK (s_refused ("{\"field\": \"status\", \"op\": \"eq\", \"value\": \"gone\"}",
                      "filter.value", "must be one of free paid withdrawn"));
    CHECK (s_refused ("{\"field\": \"purchase_count\", \"op\": \"gt\", \"value\": \"3\"}",
                      "filter.value", "must be an integer"));
    CHECK (s_refused ("{\"field\": \"signed_up_at\", \"op\": \"after\", \"value\": \"yesterday\"}",
                      "filter.value", "must be an RFC 3339 time: \"2026-04-01T10:00:00+09:00\""));
    CHECK (s_refused ("{\"field\": \"last_login_at\", \"op\": \"within_days\", \"value\": -1}",
                      "filter.value", "must be a whole number of days from 0 to 36500"));
    CHECK (s_refused ("{\"field\": \"tags\", \"op\": \"has_any\", \"value\": []}",
                      "filter.value", "must be an array of 1 to 100 strings of 1 to 200 characters"));
    CHECK (s_refused ("{\"field\": \"attributes.Bad\", \"op\": \"exists\", \"value\": true}",
                      "filter.field",
                      "must be one of status, rank, tags, attributes.<key>, plan, signed_up_at,"
                      " last_login_at, purchase_count, purchase_total, churn_risk, loyalty_segment, marketing_consent"));
    CHECK (s_refused ("{\"field\": \"rank\", \"op\": \"eq\", \"value\": \"a\", \"sql\": \"1=1\"}",
                      "filter.sql", "is not a key of a filter: and, or, not, field, op, value"));
    CHECK (s_refused ("{\"and\": [{\"field\": \"rank\", \"op\": \"eq\", \"value\": \"a\"}], \"or\": []}",
                      "filter", "must hold and, or or not alone"));
    CHECK (s_refused ("{\"not\": {\"not\": {\"not\": {\"not\": {\"not\": {\"not\": {\"field\": \"rank\","
                      " \"op\": \"eq\", \"value\": \"a\"}}}}}}}",
                      "filter.not.not.not.not.not.not", "is nested deeper than 6 levels"));
    return check_report ("test_messaging_filter");
}
