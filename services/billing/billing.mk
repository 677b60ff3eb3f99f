# services/billing/billing.mk - kaiin-billing (libhpdf makes invoices' and receipts' PDFs, in a
# font HarfBuzz's subsetter cuts down to each document's characters; libutf8proc folds payers'
# names on bank statements; libcurl calls Stripe's API, stripe.c)
BILLING_SRCS := $(wildcard services/billing/*.c)
BILLING_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(BILLING_SRCS))
HARFBUZZ_SUBSET_CFLAGS := $(shell pkg-config --cflags harfbuzz-subset 2>/dev/null)
HARFBUZZ_SUBSET_LIBS   := $(shell pkg-config --libs harfbuzz-subset 2>/dev/null)

$(BILLING_OBJS): CFLAGS += $(HARFBUZZ_SUBSET_CFLAGS)

$(BUILD)/bin/kaiin-billing: $(BILLING_OBJS) $(LIBKAIIN)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcrypto -lhpdf $(HARFBUZZ_SUBSET_LIBS) $(shell pkg-config --libs libcurl 2>/dev/null) $(shell pkg-config --libs libutf8proc 2>/dev/null)

all: $(BUILD)/bin/kaiin-billing

# tests/unit/test_invoice_pdf.c includes invoice_pdf.c.
$(BUILD)/obj/tests/unit/test_invoice_pdf.o: CFLAGS += $(HARFBUZZ_SUBSET_CFLAGS)
$(BUILD)/tests/test_invoice_pdf: LDLIBS += -lhpdf $(HARFBUZZ_SUBSET_LIBS)
