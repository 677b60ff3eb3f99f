# services/billing/billing.mk - kaiin-billing (libhpdf makes invoices' and receipts' PDFs;
# libutf8proc folds payers' names on bank statements; libcurl calls Stripe's API, stripe.c)
BILLING_SRCS := $(wildcard services/billing/*.c)
BILLING_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(BILLING_SRCS))

$(BUILD)/bin/kaiin-billing: $(BILLING_OBJS) $(LIBKAIIN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcrypto -lhpdf $(shell pkg-config --libs libcurl 2>/dev/null) $(shell pkg-config --libs libutf8proc 2>/dev/null)

all: $(BUILD)/bin/kaiin-billing
