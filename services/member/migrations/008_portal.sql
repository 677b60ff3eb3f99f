-- 008_portal.sql - what the member portal adds: a member's own consent choice (method
-- 'portal'), and forgotten-password requests with their single-use reset tokens
alter table members drop constraint members_consent_method_check,
    add constraint members_consent_method_check
        check (consent_method in ('web_form', 'paper', 'import', 'api', 'verbal', 'portal'));
alter table member_consents drop constraint member_consents_method_check,
    add constraint member_consents_method_check
        check (method in ('web_form', 'paper', 'import', 'api', 'verbal', 'portal'));

-- Every request for a reset mail, whether or not the address is a member's: the rate limits
-- count these (per address and per client address, over the last hour). member_id and the
-- token's hash are set when a mail was sent; only the SHA-256 of the token is kept.
create table password_resets (
    seq bigint generated always as identity primary key,
    email text not null,                    -- lower-cased, as asked
    ip text not null default '',
    requested_at timestamptz not null,
    member_id uuid references members (id),
    token_sha256 text unique,               -- hex; null when no mail was sent
    expires_at timestamptz,
    used_at timestamptz
);
create index password_resets_email on password_resets (email, requested_at);
create index password_resets_ip on password_resets (ip, requested_at);
