-- 010_encryption.sql - personal fields encrypted at rest (member_crypt.c): each member's data
-- key, wrapped by the master key; the master key's check value; the phone's keyed hash; the
-- birthday as text (it holds ciphertext); the search text without the phone

-- One data key a member, AES-256-GCM-wrapped by the master key (MEMBER_MASTER_KEY) with the
-- member's id as associated data. Erasure deletes the row: whatever the key sealed (the
-- record's fields, the audit log's values, in every backup taken after) cannot be read again.
create table member_keys (
    member_id uuid primary key,
    wrapped_key text not null,              -- "k1:" base64 (nonce, sealed key, tag)
    key_version int not null default 1,     -- the master key's version that wrapped it
    created_at timestamptz not null default now ()
);

-- A constant sealed by each master key version: a service started with another key refuses
-- to run instead of writing under the wrong one.
create table member_key_check (
    key_version int primary key,
    sealed text not null
);

alter table members alter column birthday type text using birthday::text;

-- HMAC-SHA256 of the phone's digits under a key derived from the master key: an exact match
-- for search, without the number.
alter table members add column phone_hash text;
create index members_phone_hash on members (phone_hash) where phone_hash is not null;

-- The search text as 003 made it, less the phone (ciphertext now); its trigram index again.
alter table members drop column search_text;
alter table members add column search_text text generated always as (
    search_norm (name) || chr (10) || search_norm (name_kana) || chr (10) || search_norm (email)) stored;
do $$
begin
    if exists (select 1 from pg_extension where extname = 'pg_trgm') then
        execute 'create index members_search_trgm on members using gin (search_text gin_trgm_ops)';
    end if;
end
$$;

-- The rows still holding a personal value in clear (written before this migration): the tick
-- finds them here (member_crypt_tick), an empty index once they are sealed.
create index members_clear_fields on members (seq) where erased_at is null
    and ((phone <> '' and phone not like 'k1:%') or (birthday is not null and birthday not like 'k1:%')
      or (address <> '' and address not like 'k1:%') or (note <> '' and note not like 'k1:%'));
