#!/bin/bash
# pg-cluster.sh - start or stop a private PostgreSQL cluster (initdb on first start).
#   scripts/pg-cluster.sh start DATADIR PORT     listens on 127.0.0.1:PORT and a socket in DATADIR
#   scripts/pg-cluster.sh stop DATADIR [MODE]    MODE fast (the default) or immediate: as a crash,
#                                               no checkpoint, recovery at the next start
# PostgreSQL refuses to run as root; as root the cluster runs as the 'postgres' user.
# KAIIN_PG_CONF: lines added to a new cluster's postgresql.conf, for experiments, e.g.
#   KAIIN_PG_CONF="shared_preload_libraries = 'pg_stat_statements'" (bench/README.md)
set -euo pipefail
cmd=${1:?start or stop}; data=${2:?data directory}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
start)
    port=${3:?port}
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres: "$data"
    chmod 700 "$data"
    if [ ! -f "$data/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >"$data.initdb.log" 2>&1 || { cat "$data.initdb.log"; exit 1; }
        cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
max_connections = 200
shared_buffers = 256MB
fsync = ${KAIIN_PG_FSYNC:-on}
synchronous_commit = on
log_min_messages = warning
# errors without the values they name (a unique key's DETAIL holds the duplicate email) nor
# the statements that failed
log_error_verbosity = terse
log_min_error_statement = panic
${KAIIN_PG_CONF:-}
CONF
    fi
    as_owner "$bin/pg_ctl" -D "$data" -o "-p $port" -l "$data/server.log" -w -t 60 start >/dev/null
    ;;
stop)
    [ -f "$data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$data" -m "${3:-fast}" -w stop >/dev/null || true
    ;;
*) echo "usage: $0 start DATADIR PORT | stop DATADIR [fast|immediate]" >&2; exit 2 ;;
esac
