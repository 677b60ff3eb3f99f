# tests/fuzz/fuzz.mk - coverage-guided fuzzing of what parses untrusted input (tests/fuzz/)
#   make fuzz       builds every target with clang's libFuzzer under ASan/UBSan (build/fuzz/)
#                   and runs each for FUZZ_SECONDS, from the inputs kept in the repository
#   make test-unit  also replays those inputs through every target (built like the unit tests)
# A crash found by make fuzz is saved under build/fuzz/crashes/; copied into
# tests/fuzz/corpus/<target>/, it is replayed by every make test from then on.
FUZZ_TARGETS := json csv text render mime http envelope
FUZZ_SECONDS ?= 20
FUZZ_OBJS    := $(BUILD)/obj/tests/fuzz/replay.o $(patsubst %,$(BUILD)/obj/tests/fuzz/fuzz_%.o,$(FUZZ_TARGETS))
FUZZ_REPLAYS := $(patsubst %,$(BUILD)/fuzz-replay/fuzz_%,$(FUZZ_TARGETS))

$(FUZZ_OBJS): CFLAGS += -I.
$(FUZZ_OBJS): | $(PROTO_H)

# What each target reaches besides libkaiin.a: the services' own parsers.
FUZZ_WITH_text   := $(BUILD)/obj/services/member/member_text.o
FUZZ_LIBS_text   := $(shell pkg-config --libs libutf8proc 2>/dev/null)
FUZZ_WITH_render := $(BUILD)/obj/services/messaging/render.o $(BUILD)/obj/services/messaging/messaging_messages.o
FUZZ_WITH_mime   := $(foreach o,smtp charset signer,$(BUILD)/obj/services/messaging/$(o).o)
FUZZ_LIBS_mime   := $(shell pkg-config --libs gmime-3.0 libcurl 2>/dev/null) -lopendkim
$(BUILD)/obj/tests/fuzz/fuzz_mime.o: CFLAGS += $(shell pkg-config --cflags gmime-3.0 2>/dev/null)
FUZZ_WITH_http   := $(foreach s,member billing messaging analytics,$(BUILD)/obj/services/$(s)/$(s)_http.o)

.SECONDEXPANSION:
$(BUILD)/fuzz-replay/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/replay.o $$(FUZZ_WITH_$$*) $(BUILD)/libkaiin.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(BUILD)/libkaiin.a $(FUZZ_LIBS_$*) $(LDLIBS)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $$(FUZZ_WITH_$$*) $(BUILD)/libkaiin.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(BUILD)/libkaiin.a $(FUZZ_LIBS_$*) $(LDLIBS)

.PHONY: fuzz fuzz-run
test-unit: $(FUZZ_REPLAYS)

FUZZ_BUILD := build/fuzz
fuzz:
	@scripts/install-deps.sh clang libclang-rt-14-dev
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang OPT="-O1 -g" \
	    SANITIZE=address,undefined,fuzzer-no-link fuzz-run

fuzz-run: $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))
	@tests/fuzz/run.sh $(BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
