#!/bin/bash
# entrypoint.sh - the local PostgreSQL image's start-up: on the first start with an empty data
# directory, initdb, then run /docker-entrypoint-initdb.d/* against a server that listens on its
# socket only (so a TCP health check cannot pass too early); then run the real server.
set -euo pipefail
if [ "${1:-}" != postgres ] && [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi
[ "${1:-}" = postgres ] || exec "$@"
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql; chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups env HOME=/var/lib/postgresql "$0" "$@"
fi

su_user=${POSTGRES_USER:-postgres}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
        echo "POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
        exit 1
    fi
    echo "initialising a new cluster in $PGDATA"
    initdb -D "$PGDATA" -U "$su_user" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
        -E UTF8 --locale=C.UTF-8 --auth-local=trust \
        --auth-host="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >/dev/null
    echo "host all all all ${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"

    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w -s start
    export PGHOST=/var/run/postgresql PGUSER=$su_user
    db=${POSTGRES_DB:-$su_user}
    if [ "$db" != postgres ] && [ -z "$(psql -d postgres -qAtX -c "select 1 from pg_database where datname = '$db'")" ]; then
        psql -d postgres -v ON_ERROR_STOP=1 -qX -c "create database \"$db\""
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case $f in
        *.sh) echo "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
        *.sql) echo "running $f"; psql -d "$db" -v ON_ERROR_STOP=1 -qX -f "$f" ;;
        *) [ -e "$f" ] && echo "ignoring $f" ;;
        esac
    done
    unset PGHOST PGUSER
    pg_ctl -D "$PGDATA" -m fast -w -s stop
    echo "cluster initialised"
fi
exec "$@"
