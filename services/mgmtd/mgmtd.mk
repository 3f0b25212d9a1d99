# kerbgate-mgmtd: the management API (mutual TLS).  It uses kerbgated's HTTP
# parser and TLS wrapper and the control frames: one of each in the tree.

MGMTD_SRCS := $(wildcard services/mgmtd/*.c)
MGMTD_SHARED := services/kerbgated/http.c services/kerbgated/tls.c services/kerbgated/ctlproto.c
MGMTD_BIN  := $(BINDIR)/kerbgate-mgmtd

$(MGMTD_BIN): $(call objs,$(MGMTD_SRCS) $(MGMTD_SHARED)) $(COMMON_LIB) $(MBEDTLS_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^ $(MBEDTLS_LIBS) $(MBEDTLS_LDLIBS) $(CRYPTO_LIBS) $(EV_LIBS) $(JANSSON_LIBS) $(ARGON2_LIBS)

ifeq ($(CONFIG_SERVICE_MGMTD),y)
SERVICE_BINS += $(MGMTD_BIN)
endif
