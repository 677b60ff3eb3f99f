-- 002_scheduler_indexes.sql - what the scheduler looks for on every tick, without a scan of
-- every subscription or card
create index subscriptions_incomplete on subscriptions (created_at) where status = 'incomplete';
create index payment_methods_expiry on payment_methods ((exp_year * 12 + exp_month))
    where type = 'card' and status = 'active' and not expiring_notified;
