# gateway/gateway.mk - kaiin-gateway
GATEWAY_SRCS := $(wildcard gateway/*.c)
GATEWAY_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(GATEWAY_SRCS))

$(BUILD)/bin/kaiin-gateway: $(GATEWAY_OBJS) $(LIBKAIIN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

all: $(BUILD)/bin/kaiin-gateway
$(BUILD)/bin/kaiin-gateway: LDLIBS += -lcrypto -lz
