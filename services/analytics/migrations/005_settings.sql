-- What staff tune from the console (GET and PATCH /v1/analytics/settings): one row, versioned
-- for If-Match. The signals read it on each tick; it replaces ANALYTICS_INACTIVE_DAYS and
-- ANALYTICS_CHURN_RISK_THRESHOLD, whose defaults it keeps.
create table settings (
    id boolean primary key default true check (id),
    inactive_days int not null default 10 check (inactive_days between 1 and 365),
    churn_risk_threshold int not null default 60 check (churn_risk_threshold between 1 and 100),
    version bigint not null default 1
);
insert into settings default values;
