#!/bin/bash
# rolling-update.sh - replace the running replicas of one service with new ones, one team's deploy
# that loses no request: start as many new replicas as are running (from the freshly built image),
# wait until each is healthy (connected to the broker, database reachable), then stop the old ones
# one at a time. SIGTERM makes a service tell the broker it leaves and finish what it holds.
#   deploy/rolling-update.sh [--build] [--timeout SECONDS] SERVICE [compose options...]
#   deploy/rolling-update.sh --build member
#   deploy/rolling-update.sh member -p myproject --env-file prod.env
# Compose: $COMPOSE if set (e.g. COMPOSE="docker-compose"), else `docker compose` when the plugin
# exists, else docker-compose. (docker-compose v1 has no rolling update of its own: a plain
# `up -d --build member` stops every old replica before the new ones are ready.)
set -euo pipefail
build=0 timeout=120
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=1 ;;
    --timeout) timeout=${2:?}; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
    esac
    shift
done
service=${1:?usage: $0 [--build] [--timeout S] SERVICE [compose options...]}; shift
. "$(dirname "$0")/compose-command.sh"
compose+=("$@")
# compose v2 prints the project's name first in `config` (awk reads it all: no SIGPIPE).
project=$("${compose[@]}" config 2>/dev/null | awk '$1 == "name:" && !seen { print $2; seen = 1 }' || true)
say() { echo "rolling-update: $*"; }

ids() {  # the service's containers (running only with "running")
    local filter=(--filter "label=com.docker.compose.service=$service")
    [ -n "$project" ] && filter+=(--filter "label=com.docker.compose.project=$project")
    [ "${1:-}" = running ] && filter+=(--filter status=running)
    docker ps -aq --no-trunc "${filter[@]}"
}
# docker-compose v1 prints no project name in `config`: ask it for the containers instead.
if [ -z "$project" ]; then
    first=$("${compose[@]}" ps -q "$service" | awk 'NR == 1' || true)
    [ -n "$first" ] && project=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.project"}}' "$first")
fi
[ -n "$project" ] || { echo "rolling-update: no container of '$service' runs; use up -d first" >&2; exit 1; }

if [ $build = 1 ]; then say "building $service"; "${compose[@]}" build -q "$service"; fi

# Stopped replicas are not part of the service any more: remove them first.
mapfile -t stopped < <(comm -23 <(ids | sort) <(ids running | sort))
for id in "${stopped[@]}"; do [ -n "$id" ] && docker rm -f "$id" >/dev/null && say "removed stopped ${id:0:12}"; done
mapfile -t old < <(ids running)
n=${#old[@]}
[ "$n" -gt 0 ] || { echo "rolling-update: no running replica of '$service'" >&2; exit 1; }

say "starting $n new replica(s) of $service beside the $n running"
"${compose[@]}" up -d --no-deps --no-recreate --scale "$service=$((2 * n))" "$service" 2>&1 | grep -v '^$' | sed 's/^/  /' || true
mapfile -t new < <(comm -13 <(printf '%s\n' "${old[@]}" | sort) <(ids running | sort))
[ "${#new[@]}" -ge "$n" ] || { echo "rolling-update: expected $n new replicas, found ${#new[@]}" >&2; exit 1; }

deadline=$((SECONDS + timeout))
for id in "${new[@]}"; do
    while :; do
        state=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
        case $state in
        "running healthy"|"running none") break ;;
        running*) ;;
        *) echo "rolling-update: new replica ${id:0:12} is $state; old replicas left running" >&2; exit 1 ;;
        esac
        [ $SECONDS -lt $deadline ] || { echo "rolling-update: ${id:0:12} not healthy after ${timeout}s; old replicas left running" >&2; exit 1; }
        sleep 0.5
    done
    say "new replica ${id:0:12} is healthy"
done
for id in "${old[@]}"; do
    docker stop -t 30 "$id" >/dev/null && docker rm "$id" >/dev/null
    say "old replica ${id:0:12} stopped and removed"
done
say "$service now runs ${#new[@]} new replica(s)"
