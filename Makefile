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
FAKE_SRC := tests/fake/fakexen.c tests/fake/netfront.c
# The data and control paths, and the modules that use the host's kernel
# (control socket, uplink): all in the daemon and in the unit tests.
DP_SRC   := netback/dp.c netback/log.c netback/xenbus.c
HOST_SRC := netback/ctl.c netback/uplink.c netback/hostaddr.c netback/host.c

# Debian packages needed on the build host (the VM images are built from
# packages downloaded separately into $(DEBS), see tests/xenvm/fetch-debs.sh).
HOST_PKGS := build-essential libxen-dev libcunit1-dev qemu-system-x86 busybox-static \
	cpio iproute2 iputils-ping iperf3 kmod xz-utils file ethtool clang libclang-rt-14-dev

# Scenarios that `make test` runs on real Xen.
SCENARIOS := baseline switch lifecycle uplink hostile

.PHONY: all deps build images unit selftest scenarios test demo scenario format clean fuzz \
	fuzz-regress bench

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
# The daemon: all of the above plus main.c, linked against the real Xen
# libraries.
DAEMON_SRC := $(CORE_SRC) $(DP_SRC) $(HOST_SRC) netback/main.c
XEN_LIBS   := -lxengnttab -lxenevtchn -lxenstore

build: $(B)/unit-tests $(B)/bin/ipnetbackd $(B)/bin/ipnetbackd-asan $(B)/bin/ipnetback $(B)/bin/hostile-fe

$(B)/bin/ipnetbackd: $(DAEMON_SRC) $(wildcard include/ipnb/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(DAEMON_SRC) $(XEN_LIBS)

UNIT_ALL := $(CORE_SRC) $(DP_SRC) $(HOST_SRC) $(UNIT_SRC) $(FAKE_SRC)
$(B)/unit-tests: $(UNIT_ALL) $(wildcard include/ipnb/*.h tests/unit/*.h tests/fake/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -Itests/unit -Itests/fake -o $@ $(UNIT_ALL) -lcunit

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

# The hostile frontend (tests/hostile/) runs inside a domU of the `hostile`
# scenario: mkimage.sh copies it and its libraries into domu.cpio, so the
# images are rebuilt when it changes. libxengntshr is part of libxengnttab.
HOSTILE_FE := $(B)/bin/hostile-fe
$(HOSTILE_FE): tests/hostile/hostile-fe.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< -lxengnttab -lxenevtchn -lxenstore
$(IMG)/.stamp: $(HOSTILE_FE)

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
	tests/xenvm/metrics.sh; \
	[ $$rc -eq 0 ] || { echo "FAILED:"; for s in $(SCENARIOS); do \
		grep -a -h '^@@IPNB-\(CHECK FAIL\|RESULT .* FAIL\)' $(B)/runs/$$s/serial.txt \
		| sed "s/^@@IPNB-/  $$s: /"; done; }; exit $$rc

test: deps
	$(MAKE) unit
	$(MAKE) fuzz-regress
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

# ---- benchmark ----------------------------------------------------------------
# The data path against the fake Xen libraries, optimised and without
# sanitizers. It prints a table and asserts nothing about timing; it exits
# non-zero only if delivered packets fail their checks. Options go in
# BENCH_ARGS, e.g. make bench BENCH_ARGS="-n 200000 -t 1".
BENCH_CFLAGS := -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Itests/fake
BENCH_SRC    := tests/bench/bench_dp.c $(CORE_SRC) netback/dp.c netback/log.c $(FAKE_SRC)

bench: $(B)/bench/bench_dp
	$(B)/bench/bench_dp $(BENCH_ARGS)

$(B)/bench/bench_dp: $(BENCH_SRC) $(wildcard include/ipnb/*.h tests/fake/*.h)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ $(BENCH_SRC)

# ---- fuzzing (libFuzzer) ------------------------------------------------------
# `make fuzz` builds the targets in tests/fuzz/ (docs/testing.md, "Fuzzing")
# and runs each for FUZZ_SECONDS, starting from the committed seeds in
# tests/fuzz/corpus/<target>/. New corpus entries go to
# build/fuzz/corpus-<target>/, crash inputs to build/fuzz/<target>-crash-*,
# the fuzzer's output to build/fuzz/<target>.log. It fails if any target
# finds something. `make build/fuzz/fuzz_<target>` only builds one.
FUZZ_TARGETS := frame txreq addr dp
FUZZ_SECONDS ?= 30
FUZZ_CC      := clang
FUZZ_CFLAGS  := -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude -Itests/fake \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
# Every target links the same production files, unmodified.
FUZZ_SRC     := $(CORE_SRC) netback/dp.c netback/log.c $(FAKE_SRC)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)
# -close_fd_mask=2: the daemon's log lines (a disabled vif, ...) would fill
# the log; libFuzzer and the sanitizers still report on their own copy.
FUZZ_OPTS    := -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -close_fd_mask=2
# fuzz_dp's inputs are programs: let them be long from the start.
FUZZ_DP_OPTS := -len_control=0 -max_len=1024

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRC) $(wildcard include/ipnb/*.h tests/fake/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRC)

# Deterministic: every committed seed once through every target (no
# mutation), so that `make test` catches a regression on known inputs.
fuzz-regress: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
		$(B)/fuzz/fuzz_$$t -runs=0 -close_fd_mask=2 tests/fuzz/corpus/$$t \
			>$(B)/fuzz/$$t-regress.log 2>&1 || { tail -n 30 $(B)/fuzz/$$t-regress.log; exit 1; }; \
		echo "fuzz-regress: $$t: $$(ls tests/fuzz/corpus/$$t | wc -l) seeds passed"; \
	done

fuzz: deps
	$(MAKE) $(FUZZ_BINS)
	@rc=0; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(B)/fuzz/corpus-$$t; \
		case $$t in dp) opts="$(FUZZ_DP_OPTS)";; *) opts=;; esac; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		if $(B)/fuzz/fuzz_$$t $(FUZZ_OPTS) $$opts -artifact_prefix=$(B)/fuzz/$$t- \
			$(B)/fuzz/corpus-$$t tests/fuzz/corpus/$$t >$(B)/fuzz/$$t.log 2>&1; then \
			grep -E '^#[0-9]+[[:space:]]+DONE|^Done ' $(B)/fuzz/$$t.log | sed 's/^/  /'; \
		else \
			tail -n 40 $(B)/fuzz/$$t.log; \
			echo "fuzz: $$t FAILED (input saved as $(B)/fuzz/$$t-*, log in $(B)/fuzz/$$t.log)"; \
			rc=1; \
		fi; \
	done; exit $$rc

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(B)/unit-tests $(B)/runs $(IMG)
