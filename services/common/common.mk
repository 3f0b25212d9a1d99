# libkgcommon: what every kerbgate daemon shares (logging, config, framed
# IPC, bounded buffers).  A static library linked into each service.

COMMON_SRCS := $(wildcard services/common/*.c)
COMMON_LIB  := $(LIBDIR)/libkgcommon.a

$(COMMON_LIB): $(call objs,$(COMMON_SRCS))
