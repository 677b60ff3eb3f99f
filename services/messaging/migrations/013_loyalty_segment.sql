-- Each member's loyalty segment (RFM) as analytics last published it (score.changed), beside
-- the churn-risk score: segments filter on both.
alter table member_facts add column loyalty_segment text not null default 'none';
