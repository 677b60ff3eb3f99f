-- The churn-risk score and loyalty segment each member was last published with (score.changed),
-- so that the tick tells messaging only what changed. Analytics' own history, like signals.
alter table risk_state add column score int not null default -1;
alter table risk_state add column segment text not null default '';
