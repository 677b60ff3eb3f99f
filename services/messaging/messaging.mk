# services/messaging/messaging.mk - kaiin-messaging (GMime builds the mails, libopendkim signs
# them, libcurl sends them)
MESSAGING_SRCS := $(wildcard services/messaging/*.c)
MESSAGING_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(MESSAGING_SRCS))
MESSAGING_PKGS := gmime-3.0 libcurl opendkim

$(MESSAGING_OBJS): CFLAGS += $(shell pkg-config --cflags $(MESSAGING_PKGS) 2>/dev/null)

$(BUILD)/bin/kaiin-messaging: $(MESSAGING_OBJS) $(LIBKAIIN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(MESSAGING_PKGS) 2>/dev/null) -lcrypto

all: $(BUILD)/bin/kaiin-messaging
