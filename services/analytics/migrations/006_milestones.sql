-- The purchase and spend milestones that raise signal.purchase_milestone, set by staff beside
-- the inactivity days (GET and PATCH /v1/analytics/settings): up to 8 ascending each, empty for
-- none. They replace ANALYTICS_PURCHASE_MILESTONES and ANALYTICS_SPEND_MILESTONES, whose
-- defaults they keep.
alter table settings
    add column purchase_milestones bigint [] not null default '{10,50,100}'
        check (cardinality (purchase_milestones) <= 8),
    add column spend_milestones bigint [] not null default '{50000,100000,300000}'
        check (cardinality (spend_milestones) <= 8);
