# bench/bench.mk - `make bench`: kaiin-hello (the HTTP reference) and bench/run.sh's figures
HELLO_BIN  := $(BUILD)/bin/kaiin-hello
HELLO_OBJS := $(BUILD)/obj/bench/hello.o

$(HELLO_BIN): $(HELLO_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(shell pkg-config --libs libmicrohttpd 2>/dev/null) -lpthread

# A report: a goal missed prints MISS and still succeeds; a server or client error fails.
bench: deps all $(HELLO_BIN) build/tools/mailpit
	BUILD=$(BUILD) bench/run.sh
