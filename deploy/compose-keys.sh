#!/bin/bash
# compose-keys.sh - the CurveZMQ keys of the compose set-up, in $KAIIN_KEYS_DIR (deploy/keys):
# the broker's (broker.key, its public key in broker.pub), each service's of services/list
# (<name>.key) and the broker's list of the keys it admits (clients, "<service> <public key>").
#   deploy/compose-keys.sh [compose options...]       make the keys that are missing, write the list
#   deploy/compose-keys.sh --rotate NAME [options...] a new key for service NAME; the list keeps
#                                                     its old one beside it until the next plain run
#                                                     (NAME broker: the broker's own, not rolling)
# kaiin-keygen makes them in the gateway's image (compose service "keys", built when missing), as
# root, and gives every key file to the containers' user (uid 10001, mode 0600); compose hands
# each container its own file as a secret (/run/secrets/...). Files are rewritten in place: a
# running container's mount keeps showing the file (the broker rereads its list when it changes).
# Compose: $COMPOSE, else `docker compose`, else docker-compose.
set -euo pipefail
cd "$(dirname "$0")/.."
rotate=
case ${1:-} in
--rotate) rotate=${2:?--rotate needs a service name, or broker}; shift 2 ;;
-h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
. deploy/compose-command.sh
compose+=("$@")
services=$(sed 's/#.*//' services/list | xargs)
if [ -n "$rotate" ] && [ "$rotate" != broker ] && ! [[ " $services " == *" $rotate "* ]]; then
    echo "compose-keys.sh: '$rotate' is not a service of services/list (nor broker)" >&2
    exit 2
fi

# Runs in the container, in the keys folder.
read -r -d '' make_keys <<'SH' || true
set -euo pipefail
cd /keys
for name in broker $SERVICES; do kaiin-keygen /keys "$name" >/dev/null; done
old=
if [ -n "$ROTATE" ]; then
    old=$(kaiin-keygen /keys "$ROTATE")
    rm -rf /tmp/new
    kaiin-keygen /tmp/new "$ROTATE" >/dev/null
    cat "/tmp/new/$ROTATE.key" >"$ROTATE.key"
fi
chown 10001:10001 ./*.key
chmod 600 ./*.key
kaiin-keygen /keys broker >broker.pub
{
    echo "# the keys the broker admits, made by deploy/compose-keys.sh: <service> <public key>"
    for name in $SERVICES; do echo "$name $(kaiin-keygen /keys "$name")"; done
    if [ -n "$old" ] && [ "$ROTATE" != broker ]; then
        echo "# $ROTATE's key before its rotation: the next plain deploy/compose-keys.sh removes it"
        echo "$ROTATE $old"
    fi
} >/tmp/clients
cat /tmp/clients >clients
chmod 644 broker.pub clients
echo "broker's public key: $(cat broker.pub)"
SH
"${compose[@]}" run --rm -T -e SERVICES="$services" -e ROTATE="$rotate" keys "$make_keys"
