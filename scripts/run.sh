#!/bin/bash
# run.sh - the whole suite natively: PostgreSQL and Redis with data under $KAIIN_VAR_DIR (var/),
# the member and billing services and the gateway. Ctrl-C stops every process; the data stays
# for next time. The sandbox payment provider's webhook secret is made once, in
# var/secrets/billing-webhook-secret (sign test webhooks with it; see services/billing/README.md).
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
export MEMBER_PG_PASSWORD=$(secret member-pg-password)
export MEMBER_PG_OWNER_PASSWORD=$(secret member-pg-owner-password)
export BILLING_PG_PASSWORD=$(secret billing-pg-password)
export BILLING_PG_OWNER_PASSWORD=$(secret billing-pg-owner-password)
webhook_secret=$(secret billing-webhook-secret)
services=member
[ -x "$bin/kaiin-billing" ] && services=member,billing

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
trap stop EXIT                    # a process died, or start-up failed

scripts/pg-cluster.sh start "$var/pg" "$pg_port"
PGHOST="$var/pg" PGPORT=$pg_port PGUSER=postgres KAIIN_SERVICES=$services scripts/db-init.sh

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$var" --appendonly yes \
    --appendfilename redis.aof --save "" --daemonize no >"$var/log/redis.log" 2>&1 &
pids+=($!)

MEMBER_PG_URL="postgresql://kaiin_member:$MEMBER_PG_PASSWORD@127.0.0.1:$pg_port/kaiin" \
MEMBER_PG_OWNER_URL="postgresql://kaiin_member_owner:$MEMBER_PG_OWNER_PASSWORD@127.0.0.1:$pg_port/kaiin" \
KAIIN_BROKER_ENDPOINT=$broker "$bin/kaiin-member" 2>>"$var/log/member.log" &
pids+=($!)

if [[ $services == *billing* ]]; then
    BILLING_PG_URL="postgresql://kaiin_billing:$BILLING_PG_PASSWORD@127.0.0.1:$pg_port/kaiin" \
    BILLING_PG_OWNER_URL="postgresql://kaiin_billing_owner:$BILLING_PG_OWNER_PASSWORD@127.0.0.1:$pg_port/kaiin" \
    BILLING_SANDBOX_WEBHOOK_SECRET=$webhook_secret \
    KAIIN_BROKER_ENDPOINT=$broker "$bin/kaiin-billing" 2>>"$var/log/billing.log" &
    pids+=($!)
fi

KAIIN_HTTP_PORT=$http_port KAIIN_BROKER_ENDPOINT=$broker KAIIN_ADMIN_TOKEN_FILE="$var/admin-token" \
KAIIN_REDIS_URL="redis://127.0.0.1:$redis_port" KAIIN_PG_URL="postgresql://127.0.0.1:$pg_port/kaiin" \
KAIIN_SERVICES=$services KAIIN_OPENAPI="$root/gateway/openapi.yaml" \
"$bin/kaiin-gateway" 2>>"$var/log/gateway.log" &
pids+=($!)

for _ in $(seq 1 100); do
    if curl -fsS "http://localhost:$http_port/readyz" >/dev/null 2>&1; then
        echo "Kaiin is up on http://localhost:$http_port"
        echo "admin token: $var/admin-token   logs: $var/log/   stop: Ctrl-C"
        wait -n "${pids[@]}" || true
        echo "a Kaiin process exited; see $var/log/" >&2
        exit 1
    fi
    sleep 0.2
done
echo "Kaiin did not become ready; see $var/log/" >&2
curl -s "http://localhost:$http_port/readyz" >&2 || true
exit 1
