#!/bin/bash
# 10-kaiin-db-init.sh - runs once, when the postgres container starts with an empty volume (both
# the public postgres image and deploy/postgres run /docker-entrypoint-initdb.d/*). It runs the
# same scripts/db-init.sh as the native run, mounted at /opt/kaiin/db-init.sh by
# docker-compose.yml: database kaiin, and per service its schema, owner role and login role with
# the passwords <SERVICE>_PG_OWNER_PASSWORD and <SERVICE>_PG_PASSWORD from the environment, for
# every service of KAIIN_SERVICES (docker-compose.yml sets all of these from services/list).
# To apply it again to an existing volume (a new service, changed passwords):
#   docker-compose exec postgres /docker-entrypoint-initdb.d/10-kaiin-db-init.sh
: "${KAIIN_SERVICES:?is not set: the services of services/list (docker-compose.yml sets it)}"
PGHOST=${PGHOST:-/var/run/postgresql} PGUSER=${POSTGRES_USER:-postgres} bash /opt/kaiin/db-init.sh
echo "kaiin: database, schemas and roles ready for services: $KAIIN_SERVICES"
