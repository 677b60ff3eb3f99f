-- 011_webhook_secret_rotation.sql - an endpoint's signing secret can be rotated with an overlap
-- (webhook.c): the replaced secret still signs every delivery, beside the new one, until
-- previous_secret_expires_at_ms, so a receiver can switch to the new one without losing any.
alter table webhook_endpoints
    add column previous_secret text not null default '',
    add column previous_secret_expires_at_ms bigint not null default 0;
