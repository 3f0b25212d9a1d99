# kerbgate-smbpull: pull mode (docs/package.md).  Needs libsmbclient
# (Debian's libsmbclient-dev); without it, it is not built (a note says so).
# Another copy of the library: make SMBCLIENT_CFLAGS=-I... SMBCLIENT_LIBS="-L... -lsmbclient".

SMBCLIENT_CFLAGS ?= $(shell pkg-config --cflags smbclient 2>/dev/null)
SMBCLIENT_LIBS   ?= $(shell pkg-config --libs smbclient 2>/dev/null)

SMBPULL_SRCS   := $(wildcard services/smbpull/*.c)
SMBPULL_SHARED := tools/roll/mgmtclient.c services/kerbgated/http.c services/kerbgated/tls.c
SMBPULL_BIN    := $(BINDIR)/kerbgate-smbpull

$(OBJDIR)/services/smbpull/%.o: INCLUDES += -Iservices/smbpull $(SMBCLIENT_CFLAGS)

$(SMBPULL_BIN): $(call objs,$(SMBPULL_SRCS) $(SMBPULL_SHARED)) $(COMMON_LIB) $(MBEDTLS_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^ $(MBEDTLS_LIBS) $(MBEDTLS_LDLIBS) $(CRYPTO_LIBS) $(JANSSON_LIBS) $(SECCOMP_LIBS) $(SMBCLIENT_LIBS)

# In the image with CONFIG_SERVICE_SMBPULL (services/Kconfig), else built
# with the tools for the lab tests.
ifneq ($(strip $(SMBCLIENT_LIBS)),)
ifeq ($(CONFIG_SERVICE_SMBPULL),y)
SERVICE_BINS += $(SMBPULL_BIN)
else
TOOL_BINS += $(SMBPULL_BIN)
endif
else ifeq ($(CONFIG_SERVICE_SMBPULL),y)
$(error CONFIG_SERVICE_SMBPULL needs libsmbclient: apt-get install libsmbclient-dev)
else
$(info note: libsmbclient not found (apt-get install libsmbclient-dev): kerbgate-smbpull is not built)
endif
