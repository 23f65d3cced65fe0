# llorch build configuration: edit here or override on the make command line.
VERSION = 0.1.0

PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib
INCLUDEDIR = $(PREFIX)/include
MANDIR = $(PREFIX)/share/man
PKGCONFIGDIR = $(LIBDIR)/pkgconfig

CC ?= cc
PKG_CONFIG ?= pkg-config
OPT ?= -O2 -g

# Warnings are errors for us; DEVOPTS=no-error keeps a newer compiler from
# breaking a user's build.
WARN = -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes \
       -Wold-style-definition -Wvla -Wwrite-strings -Wformat-security \
       -Wpointer-arith -fno-common
ifneq ($(DEVOPTS),no-error)
WARN += -Werror
endif

# Debian packages the build, the tests and `make run` need. `make deps`
# installs the missing ones (apt-get, through sudo when not root).
DEB_PACKAGES = build-essential pkg-config libjansson-dev libopenblas-dev \
	libmicrohttpd-dev libcurl4-openssl-dev libpcre2-dev libcmocka-dev \
	bats bats-assert bats-support socat curl clang libfuzzer-14-dev \
	libclang-rt-14-dev python3 python3-numpy python3-sentencepiece \
	mandoc valgrind nodejs perl jq gnuplot-nox
