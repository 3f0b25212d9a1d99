# kerbgate-roll: the management plane's rotation tool (runs off the
# appliance).  Built with the tree and tested in the lab; not in the image.

ROLL_SRCS   := $(wildcard tools/roll/*.c)
ROLL_SHARED := services/kerbgated/http.c services/kerbgated/tls.c
ROLL_BIN    := $(BINDIR)/kerbgate-roll

$(ROLL_BIN): $(call objs,$(ROLL_SRCS) $(ROLL_SHARED)) $(COMMON_LIB) $(MBEDTLS_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^ $(MBEDTLS_LIBS) $(MBEDTLS_LDLIBS) $(CRYPTO_LIBS) $(HEIMDAL_LIBS) $(JANSSON_LIBS)

TOOL_BINS += $(ROLL_BIN)
