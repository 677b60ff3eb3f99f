-- 006_cancel_reason_payment_failed.sql - a subscription that dunning ends is canceled with the
-- reason payment_failed (involuntary churn), which billing alone sets: analytics' cancel
-- reasons then tell it apart from the members' own and from "none recorded".
alter table subscriptions drop constraint subscriptions_cancel_reason_check;
alter table subscriptions add constraint subscriptions_cancel_reason_check
    check (cancel_reason in ('', 'too_expensive', 'missing_features', 'switched_service', 'unused', 'other',
                             'payment_failed'));
