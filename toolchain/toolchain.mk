# Picks the toolchain file named by CONFIG_TOOLCHAIN_NAME and sets the flags
# every C file is built with.

TOOLCHAIN_NAME := $(patsubst "%",%,$(CONFIG_TOOLCHAIN_NAME))
ifeq ($(TOOLCHAIN_NAME),)
TOOLCHAIN_NAME := x86_64-linux-gnu
endif
include toolchain/$(TOOLCHAIN_NAME).mk

OPTIMIZE := $(patsubst "%",%,$(CONFIG_TOOLCHAIN_OPTIMIZE))
ifeq ($(OPTIMIZE),)
OPTIMIZE := -O2
endif

WARN_CFLAGS := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter \
               -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith
BASE_CFLAGS := -std=gnu11 -g $(OPTIMIZE) $(WARN_CFLAGS) -D_GNU_SOURCE -pthread

HARDEN_CFLAGS  := -fPIE -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
                  -fstack-clash-protection -fcf-protection
HARDEN_LDFLAGS := -pie -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack

# SANITIZE=1: clang with AddressSanitizer and UndefinedBehaviorSanitizer,
# built into a separate output tree so the two builds never mix objects.
ifeq ($(SANITIZE),1)
TARGET_CC      := clang
TARGET_AR      := ar
OPTIMIZE       := -O1
BASE_CFLAGS    := -std=gnu11 -g $(OPTIMIZE) $(WARN_CFLAGS) -D_GNU_SOURCE -pthread \
                  -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
HARDEN_CFLAGS  :=
HARDEN_LDFLAGS := -fsanitize=address,undefined
endif

ifeq ($(CONFIG_TOOLCHAIN_HARDENING),y)
TARGET_CFLAGS  := $(BASE_CFLAGS) $(HARDEN_CFLAGS)
TARGET_LDFLAGS := $(HARDEN_LDFLAGS) -pthread
else
TARGET_CFLAGS  := $(BASE_CFLAGS)
TARGET_LDFLAGS := -pthread $(if $(filter 1,$(SANITIZE)),$(HARDEN_LDFLAGS))
endif

# Libraries, as Debian packages them.  Heimdal keeps its libraries in a
# private directory so that they do not clash with MIT's; the rpath finds them.
HEIMDAL_CFLAGS := -isystem /usr/include/heimdal
HEIMDAL_LIBS   := -L$(TARGET_LIBDIR)/heimdal -Wl,-rpath,$(TARGET_LIBDIR)/heimdal \
                  -lgssapi -lkrb5 -lasn1 -lroken
EV_LIBS        := -lev
JANSSON_LIBS   := -ljansson
CMOCKA_LIBS    := -lcmocka
SECCOMP_LIBS   := -lseccomp
# OpenSSL's libcrypto: the TLS key process signs with it (tlskey.c)
CRYPTO_LIBS    := -lcrypto
ARGON2_LIBS    := -largon2
