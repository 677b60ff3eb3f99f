# common/common.mk - libkaiin.a: the transport, envelope, config, logging, database and clock
COMMON_SRCS := $(wildcard common/*.c)
COMMON_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(COMMON_SRCS))
LIBKAIIN    := $(BUILD)/libkaiin.a

$(LIBKAIIN): $(COMMON_OBJS) $(PROTO_OBJS)
	$(AR) rcs $@ $^

all: $(LIBKAIIN)
