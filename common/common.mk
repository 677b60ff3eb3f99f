# common/common.mk - libkaiin.a: the transport, envelope, config, logging, database and clock
COMMON_SRCS := $(wildcard common/*.c)
COMMON_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(COMMON_SRCS))
LIBKAIIN    := $(BUILD)/libkaiin.a

$(LIBKAIIN): $(COMMON_OBJS) $(PROTO_OBJS)
	$(AR) rcs $@ $^

all: $(LIBKAIIN)

# kaiin-keygen: the CurveZMQ keys of the broker and the services (tools/keygen.c)
$(BUILD)/bin/kaiin-keygen: tools/keygen.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

all: $(BUILD)/bin/kaiin-keygen
