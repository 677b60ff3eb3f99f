# Makefile - Kaiin's one non-recursive build; each part adds its rules from its own .mk
#   make            build every binary under build/
#   make run        the whole suite natively, data under var/ (or $KAIIN_VAR_DIR)
#   make test       install what is missing, start throwaway servers, run every test
#   make bench      the benchmark figures, as ratios against references run alongside
#   make fuzz       the fuzz targets of tests/fuzz/ under libFuzzer, FUZZ_SECONDS each
#   make demo       a demo history in the Kaiin "KAIIN_TEST_MODE=1 make run" runs (scripts/demo.py)
#   make SANITIZE=address,undefined ...   the same with sanitizers

BUILD    ?= build
CC       ?= cc
SANITIZE ?=
OPT      ?= -O2 -g

PKGS     := libzmq libprotobuf-c libpq libmicrohttpd hiredis jansson libcrypto
# Libraries one service alone links (its .mk adds their flags): installed with the rest.
SERVICE_PKGS := gmime-3.0 libcurl opendkim libutf8proc harfbuzz-subset

# On a fresh machine the libraries' flags can only be read once they are installed: install
# them before the flags below are computed ("make test" and "make run" need no other step).
ifeq ($(filter clean,$(MAKECMDGOALS)),)
ifneq ($(shell pkg-config --exists $(PKGS) $(SERVICE_PKGS) 2>/dev/null && which protoc-c >/dev/null && echo ok),ok)
$(info installing the missing build dependencies first (Debian packages)...)
$(if $(shell scripts/install-deps.sh >&2 && echo ok),,$(error cannot install the build dependencies))
endif
endif
CFLAGS   := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
            $(OPT) -pthread -MMD -MP -I$(BUILD)/gen -Icommon \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

.PHONY: all run test test-unit test-black bench clean deps demo
all:

# Rebuild everything when the flags change (different SANITIZE, OPT, ...).
FLAGS_STAMP := $(BUILD)/.flags
$(shell mkdir -p $(BUILD); echo '$(CC) $(CFLAGS) $(LDFLAGS)' | cmp -s - $(FLAGS_STAMP) || echo '$(CC) $(CFLAGS) $(LDFLAGS)' > $(FLAGS_STAMP))

include proto/proto.mk

# Every object may include generated protobuf headers: generate them first.
$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP) | $(PROTO_H)
	@mkdir -p $(dir $@)
	@echo "CC $<"; $(CC) $(CFLAGS) -c $< -o $@

include common/common.mk
include gateway/gateway.mk
# Every service of services/list adds its rules (services/<name>/<name>.mk).
SERVICES := $(strip $(shell sed 's/\#.*//' services/list))
include $(foreach s,$(SERVICES),services/$(s)/$(s).mk)
include tests/tests.mk
include bench/bench.mk
include bench/search.mk
include deploy/compose.mk
include tests/fuzz/fuzz.mk

deps:
	@scripts/install-deps.sh

run: deps all
	@scripts/run.sh

# 24 months of an online school's members, subscriptions, purchases and cancellations, through
# the API and the test clock of the Kaiin make run started in test mode (another terminal:
# KAIIN_TEST_MODE=1 make run). DEMO_FLAGS="--months 6 --members 50 --seed 2" changes it.
demo:
	@python3 scripts/demo.py $(DEMO_FLAGS)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
