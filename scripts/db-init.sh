#!/bin/bash
# db-init.sh - create Kaiin's database, and for each service its schema, owner role and login
# role, idempotently. Connects as a superuser through the usual PG* variables (PGHOST, PGPORT,
# PGUSER). Passwords come from <SERVICE>_PG_PASSWORD and <SERVICE>_PG_OWNER_PASSWORD.
# The services: KAIIN_SERVICES (comma- or space-separated), else every one of services/list.
#   KAIIN_SERVICES="billing,member" scripts/db-init.sh
set -euo pipefail
db=${KAIIN_PG_DATABASE:-kaiin}
list="$(dirname "$0")/../services/list"
if [ -n "${KAIIN_SERVICES:-}" ]; then services=$KAIIN_SERVICES
elif [ -r "$list" ]; then services=$(sed 's/#.*//' "$list")
else echo "db-init.sh: set KAIIN_SERVICES (no $list here)" >&2; exit 1; fi
services=$(echo ${services//,/ })

psql_su() { psql -v ON_ERROR_STOP=1 -qAtX "$@"; }

if [ -z "$(psql_su -d postgres -c "select 1 from pg_database where datname = '$db'")" ]; then
    psql_su -d postgres -c "create database \"$db\""
fi
psql_su -d "$db" -c "revoke all on database \"$db\" from public; revoke all on schema public from public;"

for svc in $services; do
    upper=$(echo "$svc" | tr a-z A-Z)
    login_pw_var="${upper}_PG_PASSWORD"; owner_pw_var="${upper}_PG_OWNER_PASSWORD"
    login_pw=${!login_pw_var:?$login_pw_var is not set}
    owner_pw=${!owner_pw_var:?$owner_pw_var is not set}
    psql_su -d "$db" -v svc="$svc" -v login="kaiin_$svc" -v owner="kaiin_${svc}_owner" \
        -v login_pw="$login_pw" -v owner_pw="$owner_pw" -v db="$db" <<'SQL'
select format('create role %I login', :'owner') where not exists (select 1 from pg_roles where rolname = :'owner') \gexec
select format('create role %I login', :'login') where not exists (select 1 from pg_roles where rolname = :'login') \gexec
alter role :"owner" password :'owner_pw';
alter role :"login" password :'login_pw';
alter role :"login" set search_path = :"svc";
alter role :"owner" set search_path = :"svc";
grant connect on database :"db" to :"owner", :"login";
create schema if not exists :"svc" authorization :"owner";
revoke all on schema :"svc" from public;
grant usage on schema :"svc" to :"login";
alter default privileges for role :"owner" in schema :"svc" grant select, insert, update, delete on tables to :"login";
alter default privileges for role :"owner" in schema :"svc" grant usage, select on sequences to :"login";
alter default privileges for role :"owner" revoke execute on functions from public;
SQL
done

# Trigram indexes for partial-match search (members, inquiries): pg_trgm needs a superuser to
# install. It lives in the member schema, the only one that searches today; its functions are
# kept from PUBLIC like everything else.
if [[ " $services " == *" member "* ]]; then
    psql_su -d "$db" -c "create extension if not exists pg_trgm with schema member;
                         revoke execute on all functions in schema member from public;"
fi
