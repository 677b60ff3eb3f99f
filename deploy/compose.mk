# deploy/compose.mk - Kaiin in containers: images built from Debian packages, and the compose suite
#   make images                  deploy/build-images.sh: the base, PostgreSQL, Redis and SMTP-sink
#                                images, from Debian packages alone (kept once built)
#   make test-compose            build every image air-gapped, bring the suite up under a project
#                                name of its own, test it (tests/compose), and `down -v`
#   make test-compose-if-docker  test-compose when a Docker engine answers, else says it skipped
#   make compose-files           docker-compose.yml's and .env.example's per-service parts, made
#                                again from services/list (deploy/compose-services.sh)
# The compose suite is not part of `pytest tests`: its modules are named check_*.py.
PYTHON ?= /usr/bin/python3
COMPOSE_PYTEST_ARGS ?=

.PHONY: images test-compose test-compose-if-docker compose-files check-compose-files

images:
	deploy/build-images.sh

compose-files:
	deploy/compose-services.sh

check-compose-files:
	deploy/compose-services.sh --check

test-compose: check-compose-files
	$(PYTHON) -m pytest -c tests/compose/pytest.ini --rootdir tests/compose tests/compose $(COMPOSE_PYTEST_ARGS)

test-compose-if-docker:
	@if docker info >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory test-compose; \
	else \
		echo "test-compose: SKIPPED - no Docker engine answers 'docker info' (make test-compose runs it)"; \
	fi
