# services/analytics/analytics.mk - kaiin-analytics
ANALYTICS_SRCS := $(wildcard services/analytics/*.c)
ANALYTICS_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(ANALYTICS_SRCS))

$(BUILD)/bin/kaiin-analytics: $(ANALYTICS_OBJS) $(LIBKAIIN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

all: $(BUILD)/bin/kaiin-analytics
