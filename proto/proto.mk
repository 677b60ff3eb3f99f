# proto/proto.mk - protoc-c output goes to build/gen, compiled into libkaiin.a with common/
PROTOS     := $(wildcard proto/*.proto)
PROTO_C    := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H    := $(PROTO_C:.c=.h)
PROTO_OBJS := $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(PROTO_C))

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	@echo "PROTOC $<"; protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "CC $<"; $(CC) $(CFLAGS) -Wno-unused-parameter -c $< -o $@
.SECONDARY: $(PROTO_C) $(PROTO_H)

# The protos' comments, for the OpenAPI document (common/svc_openapi.c): protoc-c keeps them in
# a descriptor set with --include_source_info, and tools/proto_doc prints them as a C table.
PROTO_DOC      := $(BUILD)/tools/proto_doc
PROTO_DOC_GEN  := $(BUILD)/gen-tools
$(PROTO_DOC_GEN)/descriptor.pb-c.c: tools/descriptor.proto
	@mkdir -p $(PROTO_DOC_GEN)
	@echo "PROTOC $<"; protoc-c --proto_path=tools --c_out=$(PROTO_DOC_GEN) $<
$(PROTO_DOC_GEN)/descriptor.pb-c.h: $(PROTO_DOC_GEN)/descriptor.pb-c.c
$(PROTO_DOC): tools/proto_doc.c $(PROTO_DOC_GEN)/descriptor.pb-c.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "CC $<"; $(CC) $(CFLAGS) -Wno-unused-parameter -I$(PROTO_DOC_GEN) $(LDFLAGS) -o $@ \
	    tools/proto_doc.c $(PROTO_DOC_GEN)/descriptor.pb-c.c $(LDLIBS)
$(BUILD)/gen/protos.desc: $(PROTOS)
	@mkdir -p $(BUILD)/gen
	@echo "PROTOC --descriptor_set_out $@"; protoc-c --proto_path=proto --include_source_info \
	    --descriptor_set_out=$@ $(PROTOS)
$(BUILD)/gen/proto_docs.c: $(BUILD)/gen/protos.desc $(PROTO_DOC)
	@echo "PROTO_DOC $@"; $(PROTO_DOC) $< svc_proto_docs > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/gen/proto_docs.o: | $(PROTO_H)
PROTO_OBJS += $(BUILD)/obj/gen/proto_docs.o
.SECONDARY: $(PROTO_DOC_GEN)/descriptor.pb-c.c $(BUILD)/gen/proto_docs.c
