# services/member/member.mk - kaiin-member (libutf8proc folds what people type: NFKC)
MEMBER_SRCS := $(wildcard services/member/*.c)
MEMBER_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(MEMBER_SRCS))

$(BUILD)/bin/kaiin-member: $(MEMBER_OBJS) $(LIBKAIIN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

all: $(BUILD)/bin/kaiin-member
$(BUILD)/bin/kaiin-member: LDLIBS += -largon2 $(shell pkg-config --libs libutf8proc 2>/dev/null)
