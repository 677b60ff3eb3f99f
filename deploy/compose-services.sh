#!/bin/bash
# compose-services.sh - write the per-service parts of docker-compose.yml and .env.example from
# services/list (and each services/<name>/secrets): the parts between "# >>> services/list: X"
# and "# <<< services/list" lines, generated, do not edit them. Compose has no loops; this is
# its loop. Run it after changing services/list (make compose-files does).
#   deploy/compose-services.sh            rewrite both files
#   deploy/compose-services.sh --check    exit 1, with a diff, when either is out of date
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = --check ] && check=1

services=$(sed 's/#.*//' services/list)
upper() { echo "$1" | tr a-z A-Z; }
secrets_of() { [ -r "services/$1/secrets" ] && sed 's/#.*//' "services/$1/secrets" || true; }
required() { echo "\${$1:?set $1 in .env (see .env.example)}"; }

# --- the regions, by name ---------------------------------------------------------------------
region_postgres_env() {     # the postgres container's environment: db-init.sh's input
    echo "      KAIIN_SERVICES: &kaiin-services $(echo $services | tr ' ' ,)"
    for s in $services; do
        local u; u=$(upper "$s")
        echo "      ${u}_PG_PASSWORD: $(required "${u}_PG_PASSWORD")"
        echo "      ${u}_PG_OWNER_PASSWORD: $(required "${u}_PG_OWNER_PASSWORD")"
    done
}

region_services() {         # one container (scalable) per service
    local first=1
    for s in $services; do
        local u; u=$(upper "$s")
        [ $first = 1 ] || echo
        first=0
        cat <<YAML
  $s:
    <<: *service
    build:
      context: .
      dockerfile: deploy/service/Dockerfile
      args:
        SERVICE: $s
        BASE_IMAGE: \${BASE_IMAGE:-debian:bookworm-slim}
    image: \${KAIIN_IMAGE_PREFIX:-kaiin}/$s:\${KAIIN_IMAGE_TAG:-latest}
    environment:
      KAIIN_BROKER_ENDPOINT: tcp://gateway:5555
      ${u}_PG_URL: postgresql://kaiin_$s:\${${u}_PG_PASSWORD}@postgres:5432/kaiin?connect_timeout=2
      ${u}_PG_OWNER_URL: postgresql://kaiin_${s}_owner:\${${u}_PG_OWNER_PASSWORD}@postgres:5432/kaiin?connect_timeout=2
      ${u}_WORKERS: \${${u}_WORKERS:-8}
YAML
        for v in $(secrets_of "$s"); do echo "      $v: $(required "$v")"; done
        # services/<name>/compose-environment: the service's own settings in the containers,
        # one "VARIABLE: value" a line (messaging: its SMTP relay is the smtp container)
        if [ -r "services/$s/compose-environment" ]; then
            sed 's/#.*//; /^[[:space:]]*$/d; s/^/      /' "services/$s/compose-environment"
        fi
        echo "      KAIIN_LOG_LEVEL: \${KAIIN_LOG_LEVEL:-info}"
        cat <<YAML
      KAIIN_CURVE_SECRET_KEY_FILE: /run/secrets/${s}_curve_key
      KAIIN_BROKER_PUBLIC_KEY_FILE: /run/secrets/broker_public_key
    secrets:
      - ${s}_curve_key
      - broker_public_key
YAML
    done
}

region_secrets() {          # each service's CurveZMQ key (deploy/compose-keys.sh makes them)
    for s in $services; do
        echo "  ${s}_curve_key:"
        echo "    file: \${KAIIN_KEYS_DIR:-./deploy/keys}/$s.key"
    done
}

region_env() {              # .env.example: each service's passwords, workers and secrets
    local first=1
    for s in $services; do
        local u; u=$(upper "$s")
        [ $first = 1 ] || echo
        first=0
        cat <<ENV
# $s: roles kaiin_$s (login, DML on schema $s only) and kaiin_${s}_owner
# (owns the schema, runs its migrations); worker threads per replica, each with a connection.
${u}_PG_PASSWORD=change-me-$s
${u}_PG_OWNER_PASSWORD=change-me-$s-owner
${u}_WORKERS=8
ENV
        local vars; vars=$(secrets_of "$s")
        [ -z "$vars" ] || echo "# Its secrets (services/$s/secrets says what they are for):"
        for v in $vars; do            # a key (..._KEY) has a form: 64 hex digits, openssl rand -hex 32
            case $v in
                *_KEY) echo "$v=$(printf '0%.0s' $(seq 64))" ;;
                *) echo "$v=change-me-$(echo "$v" | tr A-Z_ a-z-)" ;;
            esac
        done
    done
}

# --- rewrite the regions ----------------------------------------------------------------------
generate() {                # file → the file with its regions made again, on stdout
    local line name= inside=0
    while IFS= read -r line || [ -n "$line" ]; do
        if [ $inside = 1 ]; then
            [[ $line =~ ^[[:space:]]*#\ \<\<\<\ services/list ]] || continue
            inside=0
        elif [[ $line =~ ^[[:space:]]*#\ \>\>\>\ services/list:\ ([a-z_]+) ]]; then
            name=${BASH_REMATCH[1]}
            printf '%s\n' "$line"
            "region_$name"
            inside=1
            continue
        fi
        printf '%s\n' "$line"
    done <"$1"
    [ $inside = 0 ] || { echo "compose-services.sh: $1: region '$name' has no end line" >&2; exit 1; }
}

status=0
for file in docker-compose.yml .env.example; do
    new=$(generate "$file")
    if [ "$new" = "$(cat "$file")" ]; then continue; fi
    if [ $check = 1 ]; then
        echo "$file is out of date with services/list: run deploy/compose-services.sh" >&2
        diff -u "$file" <(printf '%s\n' "$new") >&2 || true
        status=1
    else
        printf '%s\n' "$new" >"$file"
        echo "compose-services.sh: wrote $file"
    fi
done
exit $status
