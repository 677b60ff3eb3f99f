# bench/bench.mk - `make bench`: kaiin-hello (the HTTP reference), kaiin-bench-events (the
# analytics figures' outbox rows) and bench/run.sh's figures
HELLO_BIN  := $(BUILD)/bin/kaiin-hello
HELLO_OBJS := $(BUILD)/obj/bench/hello.o
EVENTS_BIN := $(BUILD)/bin/kaiin-bench-events
# defined before the bench rule: a prerequisite list is expanded where the rule is read
COST_BIN := $(BUILD)/bin/kaiin-bench-cost

$(HELLO_BIN): $(HELLO_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(shell pkg-config --libs libmicrohttpd 2>/dev/null) -lpthread

# Payloads packed from the API's JSON by their descriptors (bench/events.c).
$(EVENTS_BIN): $(BUILD)/obj/bench/events.o $(LIBKAIIN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# A report: a goal missed prints MISS and still succeeds; a server or client error fails.
bench: deps all $(HELLO_BIN) $(EVENTS_BIN) $(COST_BIN) build/tools/mailpit
	BUILD=$(BUILD) bench/run.sh

# What CURVE and the sealed fields cost a read (bench/cost.c): member's own crypt code, linked
# with the rest of its objects but its main.
$(BUILD)/obj/bench/cost.o: CFLAGS += -Iservices/member
$(BUILD)/obj/bench/cost.o: | $(PROTO_H)
$(COST_BIN): $(BUILD)/obj/bench/cost.o $(filter-out %/main.o,$(MEMBER_OBJS)) $(LIBKAIIN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS) -largon2 $(shell pkg-config --libs libutf8proc 2>/dev/null)
