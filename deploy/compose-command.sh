# compose-command.sh - sourced by the deploy scripts: sets the array `compose` to the compose
# command, $COMPOSE if set (e.g. COMPOSE="docker-compose -p kaiin"), else `docker compose` when
# the plugin exists, else docker-compose.
if [ -n "${COMPOSE:-}" ]; then read -ra compose <<<"$COMPOSE"
elif docker compose version >/dev/null 2>&1; then compose=(docker compose)
else compose=(docker-compose); fi
