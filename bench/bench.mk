# bench/bench.mk - `make bench`: kaiin-hello (the HTTP reference), kaiin-bench-events (the
# analytics figures' outbox rows) and bench/run.sh's figures
HELLO_BIN  := $(BUILD)/bin/kaiin-hello
HELLO_OBJS := $(BUILD)/obj/bench/hello.o
EVENTS_BIN := $(BUILD)/bin/kaiin-bench-events

$(HELLO_BIN): $(HELLO_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(shell pkg-config --libs libmicrohttpd 2>/dev/null) -lpthread

# Payloads packed from the API's JSON by their descriptors (bench/events.c).
$(EVENTS_BIN): $(BUILD)/obj/bench/events.o $(LIBKAIIN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# A report: a goal missed prints MISS and still succeeds; a server or client error fails.
bench: deps all $(HELLO_BIN) $(EVENTS_BIN) build/tools/mailpit
	BUILD=$(BUILD) bench/run.sh
