#!/bin/bash
# run.sh - the whole suite natively: PostgreSQL and Redis with data under $KAIIN_VAR_DIR (var/),
# every service of services/list that is built, and the gateway. Ctrl-C stops every process; the
# data stays for next time. Each service gets <NAME>_PG_URL and <NAME>_PG_OWNER_URL (its roles'
# passwords made once, in var/secrets/<name>-pg-password and <name>-pg-owner-password), and each
# variable of its services/<name>/secrets, made once in var/secrets/<variable, lower case, with
# dashes> (billing's webhook secret: var/secrets/billing-sandbox-webhook-secret; sign test
# webhooks with it, see services/billing/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
var=${KAIIN_VAR_DIR:-$root/var}
bin=${KAIIN_BIN_DIR:-$root/build/bin}
http_port=${KAIIN_HTTP_PORT:-8080}
pg_port=${KAIIN_PG_PORT:-54329}
redis_port=${KAIIN_REDIS_PORT:-63799}
# On one machine the services reach the broker over a Unix socket (cheaper than loopback TCP),
# unless its path is too long for one (108 bytes).
broker=ipc://$var/broker.ipc
[ ${#broker} -lt 100 ] || broker=tcp://127.0.0.1:55555
broker=${KAIIN_BROKER_ENDPOINT:-$broker}
mkdir -p "$var/secrets" "$var/log"
# The postgres user must be able to reach its data folder.
[ "$(id -u)" = 0 ] && chmod o+x "$var" && { d=$var; while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done; }

# Secrets are made once, 256 random bits each, and kept under var/secrets.
secret() {
    local file="$var/secrets/$1"
    [ -s "$file" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$file")
    cat "$file"
}
if [ -n "${KAIIN_ADMIN_TOKEN:-}" ]; then
    (umask 077; printf '%s' "$KAIIN_ADMIN_TOKEN" > "$var/admin-token")
else
    [ -s "$var/admin-token" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$var/admin-token")
fi
# The services of services/list that are built, and their roles' passwords. Each process sees
# only its own: db-init.sh all of them, a service its own.
services=()
declare -A login_pw owner_pw
for name in $(sed 's/#.*//' services/list); do
    if [ ! -x "$bin/kaiin-$name" ]; then echo "run.sh: $bin/kaiin-$name is not built; not starting it" >&2; continue; fi
    services+=("$name")
    login_pw[$name]=$(secret "$name-pg-password")
    owner_pw[$name]=$(secret "$name-pg-owner-password")
done
[ ${#services[@]} -gt 0 ] || { echo "run.sh: no service of services/list is built in $bin (make all)" >&2; exit 1; }
service_list=$(IFS=,; echo "${services[*]}")

# CurveZMQ (kaiin-keygen): the broker's key and each service's, made once under var/keys (files
# only their owner reads); the broker admits the services' public keys listed in var/keys/clients.
keys=$var/keys
broker_public=$("$bin/kaiin-keygen" "$keys" broker)
for name in "${services[@]}"; do echo "$name $("$bin/kaiin-keygen" "$keys" "$name")"; done >"$keys/clients.new"
mv "$keys/clients.new" "$keys/clients"

# Redis: the default user (an operator's redis-cli -a) and Kaiin's own user "kaiin", confined to
# kaiin:* keys and to no admin or dangerous command; the passwords stay out of any command line.
redis_password=$(secret redis-password)
(umask 077; cat >"$var/redis.conf" <<CONF
port $redis_port
bind 127.0.0.1
dir $var
appendonly yes
appendfilename redis.aof
save ""
logfile $var/log/redis.log
requirepass $(secret redis-admin-password)
user kaiin on >$redis_password ~kaiin:* +@all -@dangerous
CONF
)

pids=()
stop() {
    trap - INT TERM EXIT
    echo "stopping Kaiin..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    scripts/pg-cluster.sh stop "$var/pg"
    echo "stopped; data kept in $var"
}
trap 'stop; exit 0' INT TERM      # Ctrl-C: a clean stop
trap stop EXIT                    # start-up failed

# supervise NAME COMMAND...: runs the command, and again after it crashes (a non-zero exit or a
# signal; a clean exit 0 ends it), waiting 1, 2, 4 … 30 s
# (back to 1 s once a run lasted a minute); the rest keeps serving meanwhile. SIGTERM or SIGINT
# stops it and its command. Its own messages go to var/log/NAME.log, beside the command's.
supervise() {
    local name=$1 delay=1 child= pause= started rc; shift
    trap 'trap - TERM; kill -TERM $child $pause 2>/dev/null; wait $child 2>/dev/null; exit 0' TERM
    while true; do
        started=$SECONDS
        "$@" 2>>"$var/log/$name.log" &
        child=$!
        rc=0; wait "$child" || rc=$?
        [ "$rc" = 0 ] && exit 0                 # stopped on purpose (SIGTERM, Ctrl-C): not a crash
        [ $((SECONDS - started)) -ge 60 ] && delay=1
        echo "run.sh: $name exited ($rc); starting it again in ${delay}s" | tee -a "$var/log/$name.log" >&2
        sleep "$delay" & pause=$!
        wait "$pause" || true
        pause=
        delay=$((delay * 2 > 30 ? 30 : delay * 2))
    done
}

scripts/pg-cluster.sh start "$var/pg" "$pg_port"
(
    for name in "${services[@]}"; do
        upper=$(echo "$name" | tr a-z A-Z)
        export "${upper}_PG_PASSWORD=${login_pw[$name]}" "${upper}_PG_OWNER_PASSWORD=${owner_pw[$name]}"
    done
    PGHOST="$var/pg" PGPORT=$pg_port PGUSER=postgres KAIIN_SERVICES=$service_list exec scripts/db-init.sh
)

supervise redis redis-server "$var/redis.conf" &
pids+=($!)

# One process per service, each in a subshell that exports only its own settings.
for name in "${services[@]}"; do
    (
        upper=$(echo "$name" | tr a-z A-Z)
        export "${upper}_PG_URL=postgresql://kaiin_$name:${login_pw[$name]}@127.0.0.1:$pg_port/kaiin"
        export "${upper}_PG_OWNER_URL=postgresql://kaiin_${name}_owner:${owner_pw[$name]}@127.0.0.1:$pg_port/kaiin"
        if [ -r "services/$name/secrets" ]; then
            for variable in $(sed 's/#.*//' "services/$name/secrets"); do
                export "$variable=$(secret "$(echo "$variable" | tr A-Z_ a-z-)")"
            done
        fi
        export KAIIN_BROKER_ENDPOINT=$broker KAIIN_CURVE_SECRET_KEY_FILE="$keys/$name.key" \
               KAIIN_BROKER_PUBLIC_KEY="$broker_public"
        supervise "$name" "$bin/kaiin-$name"
    ) &
    pids+=($!)
done

(
    export KAIIN_HTTP_PORT=$http_port KAIIN_BROKER_ENDPOINT=$broker KAIIN_ADMIN_TOKEN_FILE="$var/admin-token" \
           KAIIN_REDIS_URL="redis://127.0.0.1:$redis_port" KAIIN_REDIS_USER=kaiin \
           KAIIN_REDIS_PASSWORD_FILE="$var/secrets/redis-password" \
           KAIIN_BROKER_SECRET_KEY_FILE="$keys/broker.key" KAIIN_BROKER_CLIENTS_FILE="$keys/clients" \
           KAIIN_PG_URL="postgresql://127.0.0.1:$pg_port/kaiin" \
           KAIIN_SERVICES=$service_list KAIIN_OPENAPI="$root/gateway/openapi.json"
    supervise gateway "$bin/kaiin-gateway"
) &
pids+=($!)

for _ in $(seq 1 100); do
    if curl -fsS "http://localhost:$http_port/readyz" >/dev/null 2>&1; then
        echo "Kaiin is up on http://localhost:$http_port"
        echo "admin token: $var/admin-token   logs: $var/log/   stop: Ctrl-C"
        # A crashed process is started again by its supervisor: this waits for Ctrl-C (or for
        # every process to have stopped cleanly on its own).
        wait "${pids[@]}" || true
        exit 0
    fi
    sleep 0.2
done
echo "Kaiin did not become ready; see $var/log/" >&2
curl -s "http://localhost:$http_port/readyz" >&2 || true
exit 1
