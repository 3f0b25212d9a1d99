# Host toolchain: Debian's gcc building for x86_64-linux-gnu.
# A cross toolchain is one more file like this one (aarch64-linux-gnu.mk)
# plus a choice in toolchain/Kconfig.

TARGET_TRIPLET := x86_64-linux-gnu
DEBIAN_ARCH    := amd64
CC             ?= gcc
TARGET_CC      := $(if $(filter default,$(origin CC)),$(TARGET_TRIPLET)-gcc,$(CC))
TARGET_AR      := $(TARGET_TRIPLET)-gcc-ar
TARGET_LIBDIR  := /usr/lib/$(TARGET_TRIPLET)
