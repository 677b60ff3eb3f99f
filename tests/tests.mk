# tests/tests.mk - C unit tests (tests/unit/test_*.c) and the black-box pytest suite (tests/*.py)
#   make test        deps, every binary, the unit tests, then the black-box suite
#   make test-unit   build and run each tests/unit/test_*.c, linked with libkaiin.a
#   make test-black  the black-box suite alone, against the binaries in $(BUILD)/bin
#   make test-san    all of it again with AddressSanitizer + UndefinedBehaviorSanitizer (but the
#                    tests marked heavy or browser)
# The black-box suite runs in two parts: the tests that measure no time on TEST_JOBS workers
# (pytest-xdist; each test file on one worker, each worker with suites of its own: the tests
# mostly wait on servers, so the 2 CPUs stay half idle when one runs at a time), then those
# marked heavy (kill -9 under load, thousands of rows, bounds in seconds) one at a time, on a
# machine left to them. TEST_JOBS=1 runs the first part in one process too.
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(UNIT_SRCS))
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
PYTHON     ?= /usr/bin/python3
PYTEST_ARGS ?=
SAN_BUILD  ?= build/san
# Any sanitizer report stops the process with a non-zero exit, and leaks are reported at exit.
SAN_ENV    := ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
              UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
              LSAN_OPTIONS=report_objects=1

.PHONY: test-san chaos

# Unit tests may #include a module's .c to reach its static functions.
$(UNIT_OBJS): CFLAGS += -I. -Igateway -Iservices/member
$(UNIT_OBJS): | $(PROTO_H)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libkaiin.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libkaiin.a $(LDLIBS)

# test_billing_numbers stands in for PostgreSQL: its pg_run, pg_defer, pg_begin and pg_commit are its own.
$(BUILD)/tests/test_billing_numbers: LDFLAGS += -Wl,--wrap=pg_run,--wrap=pg_defer,--wrap=pg_begin,--wrap=pg_commit

# test_stripe includes billing's providers: Stripe's calls go through libcurl.
$(BUILD)/tests/test_stripe: LDLIBS += $(shell pkg-config --libs libcurl 2>/dev/null)

# The member tests include member_text.c, which folds text with libutf8proc.
$(BUILD)/tests/test_member_rules $(BUILD)/tests/test_member_text: LDLIBS += $(shell pkg-config --libs libutf8proc 2>/dev/null)

# The list of error codes, from the tables of messages (test_messages checks it is current).
docs/errors.md: $(BUILD)/tests/test_messages
	$< --list > $@

# The fuzz targets' kept inputs are replayed too (tests/fuzz/fuzz.mk).
test-unit: $(UNIT_BINS)
	@set -e; n=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t; n=$$((n + 1)); done; \
	for t in $(FUZZ_TARGETS); do $(BUILD)/fuzz-replay/fuzz_$$t tests/fuzz/corpus/$$t; done; \
	echo "unit tests: $$n programs passed"

TEST_JOBS  ?= 3
LIGHT_MARK ?= not heavy
HEAVY_MARK ?= heavy
# Bytecode written (tests/__pycache__, ignored by git) even where the environment says not to:
# pytest's assertion rewriting of every test file then happens once, not in every process.
PYTEST     := env -u PYTHONDONTWRITEBYTECODE KAIIN_BIN_DIR=$(BUILD)/bin $(PYTHON) -m pytest \
              --ignore=tests/compose
# Both parts run even when the first fails; pytest's 5 (nothing selected) is not a failure.
# The first part's failures, when there are a few (RETRY_MAX), run again one at a time before
# the second part, and their second run decides: a test that waits on servers can time out
# when three suites start on two CPUs at once. Both runs' failures stay in the output.
RETRY_MAX  ?= 10
BLACK_SUITE = st=0; failed=$$(mktemp); \
	KAIIN_FAILED_FILE=$$failed $(PYTEST) tests $(if $(filter-out 1,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile) \
	    -m '$(LIGHT_MARK)' $(PYTEST_ARGS) || st=1; \
	n=$$(wc -l < $$failed); \
	if [ $$st = 1 ] && [ $$n -gt 0 ] && [ $$n -le $(RETRY_MAX) ]; then \
	    echo "== $$n failed with $(TEST_JOBS) workers: run again one at a time"; \
	    tr '\n' '\0' < $$failed | xargs -0 $(PYTEST) && st=0; \
	fi; rm -f $$failed; \
	if [ -n '$(HEAVY_MARK)' ]; then \
	    $(PYTEST) tests -m '$(HEAVY_MARK)' $(PYTEST_ARGS); r=$$?; [ $$r = 0 ] || [ $$r = 5 ] || st=1; \
	fi; exit $$st

test-black:
	@$(BLACK_SUITE)

test: deps all
	@$(MAKE) --no-print-directory test-unit
	@$(BLACK_SUITE)
	@if [ -z "$(SANITIZE)" ]; then $(MAKE) --no-print-directory test-compose-if-docker; fi

# The fault scenarios alone (pytest's marker chaos: kill -9 of a service, or PostgreSQL crashed,
# under load), ending with the table of what each lost; make test runs them in its first pass.
chaos: deps all
	$(PYTEST) tests -m chaos $(PYTEST_ARGS)

# Under the sanitizers every test runs but the heavy ones (kill -9 under load, thousands of rows,
# bounds in seconds: the sanitizers' slowdown distorts what they measure) and the browser's (the
# screens; the C they reach is the API's, tested here): both run in the first pass.
test-san:
	$(SAN_ENV) $(MAKE) --no-print-directory BUILD=$(SAN_BUILD) SANITIZE=address,undefined \
	    LIGHT_MARK='not heavy and not browser' HEAVY_MARK= test

# kaiin-echo: a service for the tests alone (tests/echo/), whose proto is compiled into it and
# nothing else, so the gateway's build has never seen its messages (tests/test_deploy_alone.py).
ECHO_GEN := $(BUILD)/gen-echo
$(ECHO_GEN)/echo.pb-c.c: tests/echo/echo.proto
	@mkdir -p $(ECHO_GEN)
	@echo "PROTOC $<"; protoc-c --proto_path=tests/echo --c_out=$(ECHO_GEN) $<
$(ECHO_GEN)/echo.pb-c.h: $(ECHO_GEN)/echo.pb-c.c

$(BUILD)/obj/echo/echo.pb-c.o: $(ECHO_GEN)/echo.pb-c.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-unused-parameter -I$(ECHO_GEN) -c $< -o $@

$(BUILD)/obj/tests/echo/echo.o: tests/echo/echo.c $(ECHO_GEN)/echo.pb-c.h $(FLAGS_STAMP) | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(ECHO_GEN) -c $< -o $@

# Its proto's comments, for the OpenAPI description it announces (proto/proto.mk's way).
$(ECHO_GEN)/echo.doc.c: tests/echo/echo.proto $(PROTO_DOC)
	@mkdir -p $(ECHO_GEN)
	@echo "PROTO_DOC $@"; protoc-c --proto_path=tests/echo --include_source_info \
	    --descriptor_set_out=$(ECHO_GEN)/echo.desc $< && $(PROTO_DOC) $(ECHO_GEN)/echo.desc echo_docs > $@
$(BUILD)/obj/echo/echo.doc.o: $(ECHO_GEN)/echo.doc.c $(FLAGS_STAMP) | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/kaiin-echo: $(BUILD)/obj/tests/echo/echo.o $(BUILD)/obj/echo/echo.pb-c.o $(BUILD)/obj/echo/echo.doc.o $(LIBKAIIN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

all: $(BUILD)/tests/kaiin-echo

# mailpit: the SMTP sink with an HTTP API that the messaging tests send to (tests/harness.py
# starts one per suite that asks for it). A Go program, built from the Go module proxy into
# build/tools/ (kept across BUILD= variants) when missing.
MAILPIT         := build/tools/mailpit
MAILPIT_VERSION := v1.33.1
GO              ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
$(MAILPIT):
	@mkdir -p $(dir $@)
	@test -x "$(GO)" || { echo "mailpit needs Go (>= 1.24) to build: set GO=/path/to/go" >&2; exit 1; }
	GOBIN=$(CURDIR)/build/tools $(GO) install github.com/axllent/mailpit@$(MAILPIT_VERSION)

# stripe-mock: Stripe's API answered from its OpenAPI description with fixture objects, no state
# kept between calls (tests/test_stripe.py points billing's Stripe provider at it). Built the
# same way.
STRIPE_MOCK         := build/tools/stripe-mock
STRIPE_MOCK_VERSION := v0.203.0
$(STRIPE_MOCK):
	@mkdir -p $(dir $@)
	@test -x "$(GO)" || { echo "stripe-mock needs Go to build: set GO=/path/to/go" >&2; exit 1; }
	GOBIN=$(CURDIR)/build/tools $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)

test test-black: $(MAILPIT) $(STRIPE_MOCK)
