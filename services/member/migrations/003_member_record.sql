-- 003_member_record.sql - the whole member record: profile, rank, tags, custom attributes,
-- note, marketing-mail consent, last login; and the normalised search text with its index

-- Ranks the business defines; basic and premium exist from the start.
create table member_ranks (
    seq bigint generated always as identity primary key,
    code text not null unique check (code ~ '^[a-z][a-z0-9_]{0,31}$'),
    label text not null,
    created_at timestamptz not null default now ()
);
insert into member_ranks (code, label) values ('basic', 'Basic'), ('premium', 'Premium');

-- Custom attributes' definitions; members carry the values in members.attributes.
create table member_attributes (
    seq bigint generated always as identity primary key,
    key text not null unique check (key ~ '^[a-z][a-z0-9_]{0,39}$'),
    label text not null,
    type text not null check (type in ('string', 'number', 'date', 'boolean', 'select')),
    options text [] not null default '{}',
    required boolean not null default false,
    created_at timestamptz not null
);

-- Search text: NFKC (full-width/half-width folded), lower case, katakana as hiragana, no
-- white space. Both the stored text and the query go through it.
create function search_norm (value text) returns text
language sql immutable strict parallel safe
as $$
    select translate (regexp_replace (lower (normalize (value, NFKC)), '[[:space:]]+', '', 'g'),
                      'ァアィイゥウェエォオカガキギクグケゲコゴサザシジスズセゼソゾタダチヂッツヅテデトドナニヌネノハバパヒビピフブプヘベペホボポマミムメモャヤュユョヨラリルレロヮワヰヱヲンヴヵヶ',
                      'ぁあぃいぅうぇえぉおかがきぎくぐけげこごさざしじすずせぜそぞただちぢっつづてでとどなにぬねのはばぱひびぴふぶぷへべぺほぼぽまみむめもゃやゅゆょよらりるれろゎわゐゑをんゔゕゖ')
$$;
grant execute on function search_norm (text) to kaiin_member;

alter table members
    add column birthday date,
    add column postal_code text not null default '',
    add column prefecture text not null default '',
    add column address text not null default '',
    add column rank text not null default 'basic' references member_ranks (code),
    add column attributes jsonb not null default '{}' check (jsonb_typeof (attributes) = 'object'),
    add column note text not null default '',
    add column consent_opt_in boolean,                 -- null: never recorded
    add column consent_at timestamptz,
    add column consent_method text check (consent_method in ('web_form', 'paper', 'import', 'api', 'verbal')),
    add column consent_source text,
    add column last_login_at timestamptz,             -- set by member login
    -- Fields are joined by a character the normaliser never leaves in a query (a newline is
    -- white space), so a match never spans two fields. The phone also appears digits only.
    add column search_text text generated always as (
        search_norm (name) || chr (10) || search_norm (name_kana) || chr (10)
        || search_norm (email) || chr (10) || search_norm (phone) || chr (10)
        || regexp_replace (phone, '[^0-9]', '', 'g')) stored;

create index members_created_at on members (created_at, seq);
create index members_name_kana on members (name_kana, seq);
create index members_rank on members (rank, seq);
create index members_last_login_at on members (last_login_at);
create index members_attributes on members using gin (attributes jsonb_path_ops);

-- Partial matching uses a trigram index when pg_trgm is there: installed beforehand by a
-- superuser (scripts/db-init.sh), or created here when this role may (it is a trusted
-- extension: CREATE on the database is enough). Without it, search still works, unindexed.
do $$
begin
    if not exists (select 1 from pg_extension where extname = 'pg_trgm') then
        begin
            create extension pg_trgm;
        exception when insufficient_privilege then
            raise notice 'pg_trgm is not installed and cannot be created by %: member search runs without its index', current_user;
        end;
    end if;
    if exists (select 1 from pg_extension where extname = 'pg_trgm') then
        execute 'create index members_search_trgm on members using gin (search_text gin_trgm_ops)';
    end if;
end
$$;

create table member_tags (
    member_seq bigint not null references members (seq) on delete cascade,
    tag text not null check (length (tag) between 1 and 50),
    added_at timestamptz not null,
    primary key (member_seq, tag)
);
create index member_tags_tag on member_tags (tag, member_seq);

-- Every consent ever recorded (特定電子メール法): members holds the latest, this the history.
create table member_consents (
    seq bigint generated always as identity primary key,
    member_seq bigint not null references members (seq) on delete cascade,
    email_opt_in boolean not null,
    at timestamptz not null,
    method text not null check (method in ('web_form', 'paper', 'import', 'api', 'verbal')),
    source text not null default '',
    recorded_at timestamptz not null,
    recorded_by text not null default ''
);
create index member_consents_member on member_consents (member_seq, seq);
