-- 014_terms_suspension_cleared.sql - terms_suspended_at (013) means "suspended now" and is in
-- the API (Subscription.suspended_at): a subscription no longer unpaid forgets it, as every
-- write of a subscription's status now does (sub_write).
update subscriptions set terms_suspended_at = null where status <> 'unpaid' and terms_suspended_at is not null;
