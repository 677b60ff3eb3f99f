-- 013_paid_invoices_cover.sql - members' paid invoices read in member order with their totals
-- from the index alone (issue 11): counting the loyalty segments at a moment (the monthly
-- report's current month, and each ended month once) grouped every paid invoice by member
-- through a sort that spilled to disk, 0.75-3 s at 100 000 members; read in the index's
-- order, 0.3 s. A member's own paid invoices (loyalty, churn risk) are read through it too.
create index paid_invoices_member_total on paid_invoices (member_id, paid_at_ms) include (total);
drop index paid_invoices_member;
