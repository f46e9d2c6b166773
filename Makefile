# ipnetback - top-level build. The two set-up commands are `make test` and
# `make demo`; both install what they need (make deps) on a fresh Debian 12.

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

B       := build
DEBS    := $(B)/debs
IMG     := $(B)/xenvm

# Pure modules shared by the daemon and the unit tests.
CORE_SRC := netback/addr.c netback/frame.c netback/iptable.c netback/txreq.c netback/xbstate.c netback/nbr.c
UNIT_SRC := $(wildcard tests/unit/*.c)
# The fake Xen libraries the unit tests link instead of -lxen*.
FAKE_SRC := tests/fake/fakexen.c
# The data path, linked into the unit tests only (the daemon lists it itself).
DP_SRC := netback/dp.c netback/log.c netback/xenbus.c

# Debian packages needed on the build host (the VM images are built from
# packages downloaded separately into $(DEBS), see tests/xenvm/fetch-debs.sh).
HOST_PKGS := build-essential libxen-dev libcunit1-dev qemu-system-x86 busybox-static \
	cpio iproute2 iputils-ping iperf3 kmod xz-utils file ethtool

# Scenarios that `make test` runs on real Xen.
SCENARIOS := baseline switch lifecycle uplink

.PHONY: all deps build images unit selftest scenarios test demo scenario format clean

all: build

# ---- dependencies -------------------------------------------------------------
deps:
	@missing=$$(for p in $(HOST_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$(echo $$missing | sed 's/^/ /')"; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi
	@tests/xenvm/fetch-debs.sh $(DEBS)

# ---- build --------------------------------------------------------------------
# The daemon: the pure modules plus the data and control paths, linked
# against the real Xen libraries ($(sort) drops duplicates with CORE_SRC).
DAEMON_SRC := $(sort $(CORE_SRC) netback/frame.c netback/iptable.c netback/txreq.c \
	netback/xbstate.c netback/nbr.c netback/log.c netback/dp.c netback/xenbus.c netback/ctl.c \
	netback/uplink.c netback/main.c)
XEN_LIBS   := -lxengnttab -lxenevtchn -lxenstore

build: $(B)/unit-tests $(B)/bin/ipnetbackd $(B)/bin/ipnetbackd-asan $(B)/bin/ipnetback

$(B)/bin/ipnetbackd: $(DAEMON_SRC) $(wildcard include/ipnb/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(DAEMON_SRC) $(XEN_LIBS)

$(B)/unit-tests: $(CORE_SRC) $(DP_SRC) $(UNIT_SRC) $(FAKE_SRC) $(wildcard include/ipnb/*.h tests/unit/*.h tests/fake/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -Itests/unit -Itests/fake -o $@ $(CORE_SRC) $(DP_SRC) $(UNIT_SRC) $(FAKE_SRC) -lcunit

# The same daemon under AddressSanitizer, UndefinedBehaviorSanitizer and
# LeakSanitizer, with the runtimes linked in so that it runs in the test
# dom0 as it is. The lifecycle scenario runs this one.
$(B)/bin/ipnetbackd-asan: $(DAEMON_SRC) $(wildcard include/ipnb/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -static-libasan -static-libubsan -o $@ $(DAEMON_SRC) $(XEN_LIBS)

# The CLI shares the ip-key parser with the daemon.
$(B)/bin/ipnetback: xenstore-tools/ipnetback.c netback/addr.c $(wildcard include/ipnb/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ xenstore-tools/ipnetback.c netback/addr.c -lxenstore

# ---- VM images ----------------------------------------------------------------
IMG_INPUTS := $(wildcard tests/xenvm/mkimage.sh tests/xenvm/*-init.sh)

images: $(IMG)/.stamp

$(IMG)/.stamp: $(IMG_INPUTS) $(wildcard $(DEBS)/.complete-*)
	tests/xenvm/mkimage.sh $(DEBS) $(IMG)
	touch $@

# ---- tests --------------------------------------------------------------------
unit: $(B)/unit-tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(B)/unit-tests

selftest: images
	tests/xenvm/selftest.sh

scenarios: images build
	@rc=0; for s in $(SCENARIOS); do tests/xenvm/run.sh $$s || rc=1; done; \
	tests/xenvm/metrics.sh; exit $$rc

test: deps
	$(MAKE) unit
	$(MAKE) selftest
	$(MAKE) scenarios

# One scenario, with the serial console shown live: make scenario S=baseline
scenario: deps images build
	tests/xenvm/run.sh -v $(S)

# Shown live: three guests and the external host on the LAN talk through
# ipnetbackd; it ends with `ipnetback vif list` and `ipnetback uplink`.
demo: deps
	$(MAKE) images build
	tests/xenvm/run.sh -v demo

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(B)/unit-tests $(B)/runs $(IMG)
