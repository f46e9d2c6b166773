# SPDX-License-Identifier: MIT
# ipnetback - top-level build. The two set-up commands are `make test` and
# `make demo`; both install what they need (make deps) on a fresh Debian 12.
#
# Every program is linked from per-object builds in build/obj/<variant>/,
# one variant per set of compiler flags: rel (the daemon, the CLI, the
# hostile frontend), san (the sanitizer daemon and the unit tests), bench,
# and fuzz (clang with libFuzzer). -MMD -MP writes a dependency file next to
# each object, so a change to any header rebuilds exactly the objects, and
# then the programs, that include it.

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wcast-qual -Wformat=2
# The version both programs report (--version), from its one place.
VERSION := $(shell sed -n 's/^\#define IPNB_VERSION "\(.*\)"/\1/p' include/ipnb/version.h)
STD     := -std=c11 -D_GNU_SOURCE -Iinclude
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
DEPFLAGS = -MMD -MP

B       := build
O       := $(B)/obj
DEBS    := $(B)/debs
IMG     := $(B)/xenvm
NPROC   := $(shell nproc 2>/dev/null || echo 2)

# Pure modules shared by the daemon and the unit tests.
CORE_SRC := netback/addr.c netback/frame.c netback/gso.c netback/pmtu.c netback/iptable.c netback/txreq.c netback/xbstate.c netback/nbr.c netback/vnet.c \
	netback/prom.c
UNIT_SRC := $(wildcard tests/unit/*.c)
# The fake Xen libraries the unit tests link instead of -lxen*.
FAKE_SRC := tests/fake/fakexen.c tests/fake/netfront.c
# The data and control paths, and the modules that use the host's kernel
# (control socket, uplink): all in the daemon and in the unit tests.
# The data path alone (the race test and the benchmark need no control path).
DP_CORE  := netback/dp.c netback/dp_tx.c netback/dp_rx.c netback/dp_switch.c netback/journal.c \
	netback/log.c
DP_SRC   := $(DP_CORE) netback/xenbus.c
HOST_SRC := netback/ctl.c netback/cap.c netback/stats.c netback/metrics.c netback/uplink.c \
	netback/hostaddr.c netback/host.c netback/sandbox.c netback/notify.c
DAEMON_SRC := $(CORE_SRC) $(DP_SRC) $(HOST_SRC) netback/main.c
CLI_SRC  := xenstore-tools/ipnetback.c netback/addr.c
# A clock the unit tests and fuzz targets can move forward (not the bench's).
FAKE_CLOCK := tests/fake/fakeclock.c
UNIT_ALL := $(CORE_SRC) $(DP_SRC) $(HOST_SRC) $(UNIT_SRC) $(FAKE_SRC) $(FAKE_CLOCK)
XEN_LIBS := -lxengnttab -lxenevtchn -lxenstore
# What HOST_SRC links besides the Xen libraries: the sandbox's seccomp and
# capabilities (netback/sandbox.c), and yajl for the control socket's JSON
# answers (netback/ctl.c), which every dom0 has since libxenlight uses it.
HOST_LIBS := -lseccomp -lcap-ng -lyajl

# Debian packages needed on the build host (the VM images are built from
# packages downloaded separately into $(DEBS), see tests/xenvm/fetch-debs.sh).
HOST_PKGS := build-essential libxen-dev libcunit1-dev libpcap-dev tcpdump qemu-system-x86 busybox-static \
	cpio iproute2 iputils-ping iperf3 kmod xz-utils file ethtool clang libclang-rt-14-dev \
	clang-tidy cppcheck git curl libseccomp-dev libcap-ng-dev libyajl-dev debhelper dpkg-dev fakeroot lintian

# Scenarios that `make test` runs on real Xen; `make bench-xen` runs the
# throughput scenarios. Ones joined by '+' run in one boot, in that order,
# and share its guests (tests/xenvm/run.sh): one dom0 boot and three guest
# boots serve every ipnetbackd scenario on the busybox dom0.
# DEPLOY_SCENARIOS boot the Debian dom0 with systemd (tests/xenvm/mkdebroot.sh):
# `make test-deploy`, which CI runs after `make test` (.ci/run). In
# `make test` they took it to 23.4 min on 2026-12-08, over the 20-minute
# budget, until the suite is made faster.
SCENARIOS        := baseline lifecycle+hostile+switch+uplink+restart
DEPLOY_SCENARIOS := deploy
BENCH_SCENARIOS := bench-kernel bench-ipnb

.PHONY: all progs install deb deps build images unit selftest scenarios test test-deploy test-repeat demo \
	scenario format clean fuzz fuzz-regress bench bench-xen lint race

# `make` builds what is installed, the daemon and the CLI, which need only
# the Xen libraries, libseccomp, libcap-ng and yajl (debian/control);
# `make build` adds what the tests need.
all: progs

progs: $(B)/bin/ipnetbackd $(B)/bin/ipnetback

# ---- install ------------------------------------------------------------------
# make install [DESTDIR=...] [PREFIX=/usr/local] [sysconfdir=/etc]: the
# programs, the hotplug script (where libxl looks for it), the systemd unit
# (its ExecStart follows sbindir), the modprobe rule, the example
# configuration (never over an existing one), man pages, bash completion
# and the docs.
PREFIX        ?= /usr/local
sbindir       ?= $(PREFIX)/sbin
sysconfdir    ?= /etc
mandir        ?= $(PREFIX)/share/man
docdir        ?= $(PREFIX)/share/doc/ipnetback
completiondir ?= $(PREFIX)/share/bash-completion/completions
unitdir       ?= /lib/systemd/system
xenscriptdir  ?= $(sysconfdir)/xen/scripts
D := $(DESTDIR)

install: progs
	install -d $(D)$(sbindir) $(D)$(xenscriptdir) $(D)$(unitdir) \
		$(D)$(sysconfdir)/modprobe.d $(D)$(sysconfdir)/ipnetback $(D)$(mandir)/man8 \
		$(D)$(docdir) $(D)$(completiondir)
	install -m 0755 $(B)/bin/ipnetbackd $(B)/bin/ipnetback dom0-scripts/ipnetback-uplink \
		$(D)$(sbindir)/
	install -m 0755 dom0-scripts/vif-ipnetback $(D)$(xenscriptdir)/
	sed 's|/usr/sbin/ipnetbackd|$(sbindir)/ipnetbackd|' dom0-scripts/ipnetbackd.service \
		>$(D)$(unitdir)/ipnetbackd.service
	chmod 0644 $(D)$(unitdir)/ipnetbackd.service
	install -m 0644 dom0-scripts/ipnetback-blacklist.conf \
		$(D)$(sysconfdir)/modprobe.d/ipnetback.conf
	[ -e $(D)$(sysconfdir)/ipnetback/ipnetbackd.conf ] || install -m 0644 \
		dom0-scripts/examples/ipnetbackd.conf $(D)$(sysconfdir)/ipnetback/ipnetbackd.conf
	install -m 0644 docs/man/*.8 \
		$(D)$(mandir)/man8/
	install -m 0644 dom0-scripts/ipnetback.bash-completion $(D)$(completiondir)/ipnetback
	ln -sf ipnetback $(D)$(completiondir)/ipnetbackd
	install -m 0644 README.md docs/*.md dom0-scripts/examples/guest.cfg $(D)$(docdir)/

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
	@$(MAKE) --no-print-directory $(PROMTOOL)

# promtool checks the metrics (test_ctl.c, the uplink scenario). It is taken
# out of Debian's prometheus package, not installed: installing it would
# start a Prometheus server on the build host.
PROMTOOL := $(B)/tools/promtool
$(PROMTOOL):
	@mkdir -p $(B)/tools/deb
	@cd $(B)/tools/deb && rm -f prometheus_*.deb && \
		{ apt-get download -q prometheus >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get download -q prometheus >/dev/null; }; }
	dpkg-deb --fsys-tarfile $(B)/tools/deb/prometheus_*.deb | tar -x -O ./usr/bin/promtool >$@.tmp
	chmod 0755 $@.tmp && mv $@.tmp $@

# ---- objects ------------------------------------------------------------------
obj = $(patsubst %.c,$(O)/$(1)/%.o,$(2))

# CPPFLAGS and LDFLAGS too, for the package's hardening (dpkg-buildflags).
$(O)/rel/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(STD) $(WARN) $(DEPFLAGS) -c -o $@ $<

# The sanitizer objects serve both the sanitizer daemon and the unit tests:
# the test-only include paths hold test headers only, never a system one.
$(O)/san/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(STD) $(WARN) $(SAN) -Itests/unit -Itests/fake $(DEPFLAGS) -c -o $@ $<

# The benchmark is always optimised and never sanitized, whatever CFLAGS says.
$(O)/bench/%.o: %.c
	@mkdir -p $(@D)
	$(CC) -O2 -g $(STD) $(WARN) -Itests/fake $(DEPFLAGS) -c -o $@ $<

FUZZ_CC     := clang
FUZZ_CFLAGS := -g -O1 $(STD) $(WARN) -Itests/fake -fsanitize=address,undefined -fno-sanitize-recover=all
$(O)/fuzz/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) -c -o $@ $<

# ---- programs -----------------------------------------------------------------
build: $(B)/unit-tests $(B)/bin/ipnetbackd $(B)/bin/ipnetbackd-asan $(B)/bin/ipnetback $(B)/bin/hostile-fe \
	$(B)/bin/ipnb-agent

$(B)/bin/ipnetbackd: $(call obj,rel,$(DAEMON_SRC))
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(XEN_LIBS) $(HOST_LIBS)

# The same daemon under AddressSanitizer, UndefinedBehaviorSanitizer and
# LeakSanitizer, with the runtimes linked in so that it runs in the test
# dom0 as it is. The lifecycle and hostile scenarios run this one.
$(B)/bin/ipnetbackd-asan: $(call obj,san,$(DAEMON_SRC))
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -static-libasan -static-libubsan -o $@ $^ $(XEN_LIBS) $(HOST_LIBS)

# The CLI, with its main() renamed, against the fake xenstore (test_cli.c).
$(O)/san-cli/ipnetback.o: xenstore-tools/ipnetback.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(STD) $(WARN) $(SAN) -DIPNB_CLI_MAIN=ipnb_cli_main -Itests/fake \
		$(DEPFLAGS) -c -o $@ $<

$(B)/unit-tests: $(call obj,san,$(UNIT_ALL)) $(O)/san-cli/ipnetback.o
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ -lcunit $(HOST_LIBS) -lpcap

# The CLI shares the ip-key parser with the daemon; libpcap compiles the
# capture filters and writes the pcap files.
$(B)/bin/ipnetback: $(call obj,rel,$(CLI_SRC))
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lxenstore -lyajl -lpcap

# The hostile frontend (tests/hostile/) runs inside a domU of the `hostile`
# scenario: mkimage.sh copies it and its libraries into domu.cpio, so the
# images are rebuilt when it changes. libxengntshr is part of libxengnttab.
HOSTILE_FE := $(B)/bin/hostile-fe
$(HOSTILE_FE): $(call obj,rel,tests/hostile/hostile-fe.c)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ -lxengnttab -lxenevtchn -lxenstore
$(IMG)/.stamp: $(HOSTILE_FE)

# The harness's command channel to its guests (tests/xenvm/agent.c): dom0
# gets it with each run's overlay, the domU image has its own copy.
AGENT := $(B)/bin/ipnb-agent
$(AGENT): $(call obj,rel,tests/xenvm/agent.c)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ -lxenstore
$(IMG)/.stamp: $(AGENT)

# Threat 1 (double fetch): a guest thread rewrites its TX ring while the
# data path reads it (tests/race/race_tx.c), under ASan+UBSan and under
# ThreadSanitizer. `make race`; part of `make test`.
RACE_SRC := tests/race/race_tx.c $(CORE_SRC) $(DP_CORE) $(FAKE_SRC)
RACE_SECONDS ?= 3
# clang: gcc's ThreadSanitizer does not model the ring barriers (fences).
$(O)/tsan/%.o: %.c
	@mkdir -p $(@D)
	clang -O1 -g $(STD) $(WARN) -fsanitize=thread -Itests/fake $(DEPFLAGS) -c -o $@ $<

$(B)/race/race_tx-asan: $(call obj,san,$(RACE_SRC))
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN) -o $@ $^ -lpthread

$(B)/race/race_tx-tsan: $(call obj,tsan,$(RACE_SRC))
	@mkdir -p $(@D)
	clang -O1 -g -fsanitize=thread -o $@ $^ -lpthread

# The daemon's log lines (a disable per garbage slot: about 10^5) and any
# sanitizer report go to build/race/*.log, shown when a run fails.
race: $(B)/race/race_tx-asan $(B)/race/race_tx-tsan
	@for v in asan tsan; do \
		ASAN_OPTIONS=detect_leaks=1 \
		TSAN_OPTIONS="suppressions=tests/race/tsan.supp halt_on_error=1" \
		$(B)/race/race_tx-$$v $(RACE_SECONDS) >$(B)/race/$$v.out 2>$(B)/race/$$v.log; \
		rc=$$?; sed "s/^/$$v: /" $(B)/race/$$v.out; \
		[ $$rc -eq 0 ] || { grep -v 'disabled: ' $(B)/race/$$v.log | tail -n 40; exit 1; }; \
	done

# ---- VM images ----------------------------------------------------------------
IMG_INPUTS := $(wildcard tests/xenvm/mkimage.sh tests/xenvm/*-init.sh)

images: $(IMG)/.stamp

$(IMG)/.stamp: $(IMG_INPUTS) $(wildcard $(DEBS)/.complete-*)
	tests/xenvm/mkimage.sh $(DEBS) $(IMG)
	touch $@

# ---- Debian dom0 ---------------------------------------------------------------
# The Debian 12 dom0 with systemd that run.sh boots for the scenarios marked
# "# ipnb-dom0: debian" (deploy): tests/xenvm/mkdebroot.sh makes a root from
# Debian's packages with mmdebstrap into $(DEBROOT)/base, kept and made
# again only when its recipe or the cached Xen .debs change (about a
# minute, most of it downloads), and from it the boot disk and initramfs,
# with the VM images' guest kernel, the kernel's modules and promtool
# (seconds). `make debroot-base` makes the base alone: `make test` runs it
# in the background from the start, when a scenario needs it.
DEBROOT := $(B)/debroot
HOST_PKGS += mmdebstrap e2fsprogs
DEB_DOM0_SCENARIOS := $(patsubst tests/xenvm/scenarios/%.sh,%,$(shell grep -l \
	'^\# ipnb-dom0: debian$$' tests/xenvm/scenarios/*.sh 2>/dev/null))
# debroot if one of the scenarios (joined by '+' or not) in $(1) needs it.
need_debroot = $(if $(filter $(DEB_DOM0_SCENARIOS),$(subst +, ,$(1))),debroot)

.PHONY: debroot debroot-base
debroot: $(DEBROOT)/.stamp

$(DEBROOT)/.stamp: tests/xenvm/mkdebroot.sh tests/xenvm/debdom0/initrd-init.sh $(IMG)/.stamp \
	$(PROMTOOL) $(wildcard $(DEBS)/.complete-*)
	tests/xenvm/mkdebroot.sh $(DEBS) $(DEBROOT) $(IMG)
	touch $@

debroot-base:
	tests/xenvm/mkdebroot.sh --base-only $(DEBS) $(DEBROOT)

# ---- lint ---------------------------------------------------------------------
# clang-tidy with the project's .clang-tidy (warnings are errors there) and
# cppcheck, over the daemon, the CLI and the hostile frontend.
LINT_SRC := $(wildcard netback/*.c xenstore-tools/*.c tests/hostile/*.c tests/xenvm/*.c)
lint:
	@printf '%s\n' $(LINT_SRC) | xargs -P $(NPROC) -n 4 sh -c \
		'clang-tidy --quiet "$$@" -- $(STD) 2>/dev/null' clang-tidy \
		|| { echo "lint: clang-tidy reported the above"; exit 1; }
	@cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--std=c11 -D_GNU_SOURCE -Iinclude netback xenstore-tools tests/hostile tests/xenvm \
		|| { echo "lint: cppcheck reported the above"; exit 1; }
	@echo "lint: clang-tidy and cppcheck clean ($(words $(LINT_SRC)) files)"

# ---- tests --------------------------------------------------------------------
unit: $(B)/unit-tests $(PROMTOOL)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 IPNB_PROMTOOL=$(PROMTOOL) \
		$(B)/unit-tests

selftest: images
	tests/xenvm/selftest.sh

# Each scenario's time goes to $(B)/phases (tests/phase.sh), so that
# `make test` can print it.
scenarios: images build $(PROMTOOL) $(call need_debroot,$(SCENARIOS))
	@rc=0; for s in $(SCENARIOS); do tests/phase.sh "scenario $$s" tests/xenvm/run.sh $$s || rc=1; done; \
	[ $$rc -eq 0 ] || { echo "FAILED:"; for s in $(SCENARIOS); do \
		grep -a -h '^@@IPNB-\(CHECK FAIL\|RESULT .* FAIL\)' $(B)/runs/$$s/serial.txt \
		| sed "s/^@@IPNB-/  $$s: /"; done; }; exit $$rc

# Every phase is timed; the table is printed at the end, pass or fail.
# The Debian dom0's base, if a scenario needs it, is made in the background
# from the start (its own time is in $(B)/debroot-base.log), and waited for
# before the scenarios: the phase "debroot" is that wait and the disk image.
test:
	@rm -f $(B)/phases; mkdir -p $(B)
	@tests/phase.sh deps $(MAKE) --no-print-directory deps && \
	$(if $(call need_debroot,$(SCENARIOS)),{ (t0=$$(date +%s); $(MAKE) --no-print-directory debroot-base; \
		echo "debroot-base: exit $$? after $$(($$(date +%s) - t0)) s") \
		>$(B)/debroot-base.log 2>&1 & debroot_pid=$$!; } && ) \
	tests/phase.sh lint $(MAKE) --no-print-directory lint && \
	tests/phase.sh build $(MAKE) --no-print-directory -j$(NPROC) build fuzz-build images \
		$(B)/race/race_tx-asan $(B)/race/race_tx-tsan && \
	tests/phase.sh unit $(MAKE) --no-print-directory unit && \
	tests/phase.sh race $(MAKE) --no-print-directory race && \
	tests/phase.sh fuzz-regress $(MAKE) --no-print-directory fuzz-regress && \
	tests/phase.sh package $(MAKE) --no-print-directory deb && \
	tests/phase.sh selftest $(MAKE) --no-print-directory selftest && \
	$(if $(call need_debroot,$(SCENARIOS)),tests/phase.sh debroot sh -c \
		'wait_for() { while kill -0 $$1 2>/dev/null; do sleep 1; done; }; wait_for '$$debroot_pid' && \
		$(MAKE) --no-print-directory debroot || { cat $(B)/debroot-base.log; exit 1; }' && ) \
	$(MAKE) --no-print-directory scenarios; rc=$$?; tests/phase.sh --report; exit $$rc

# The Debian-dom0 scenarios: the package, the root and the boot, timed like
# `make test`'s phases (its own table).
test-deploy:
	@rm -f $(B)/phases; mkdir -p $(B)
	@tests/phase.sh deps $(MAKE) --no-print-directory deps && \
	tests/phase.sh build $(MAKE) --no-print-directory -j$(NPROC) build images && \
	tests/phase.sh package $(MAKE) --no-print-directory deb && \
	tests/phase.sh debroot $(MAKE) --no-print-directory debroot && \
	$(MAKE) --no-print-directory scenarios SCENARIOS="$(DEPLOY_SCENARIOS)"; rc=$$?; \
	tests/phase.sh --report; exit $$rc

# make test-repeat N=3: N runs of `make test`, each in a fresh clone of the
# current commit (uncommitted changes are not included).
N ?= 3
test-repeat:
	tests/test-repeat.sh $(N)

# One scenario, with the serial console shown live: make scenario S=baseline
scenario: deps images build $(PROMTOOL) $(call need_debroot,$(S))
	tests/xenvm/run.sh -v $(S)

# Shown live: three guests and the external host on the LAN talk through
# ipnetbackd; it ends with `ipnetback vif list` and `ipnetback uplink`.
demo: deps
	$(MAKE) images build
	tests/xenvm/run.sh -v demo

# ---- benchmarks ---------------------------------------------------------------
# The data path against the fake Xen libraries, optimised and without
# sanitizers. It prints a table and asserts nothing about timing; it exits
# non-zero only if delivered packets fail their checks. Options go in
# BENCH_ARGS, e.g. make bench BENCH_ARGS="-n 200000 -t 1".
BENCH_SRC := tests/bench/bench_dp.c $(CORE_SRC) $(DP_CORE) $(FAKE_SRC)

bench: $(B)/bench/bench_dp
	$(B)/bench/bench_dp $(BENCH_ARGS)

# --wrap=malloc: the benchmark counts the data path's allocations.
$(B)/bench/bench_dp: $(call obj,bench,$(BENCH_SRC))
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wl,--wrap=malloc -o $@ $^

# Real Xen, side by side: every path through the kernel netback and a
# bridge, then through ipnetbackd (tests/xenvm/bench.sh: TCP with 1 and 4
# streams, ping times, 64-byte UDP), alternated for BENCH_ROUNDS rounds,
# each set-up in its own boot, since one TCG boot differs from the next by
# 2-3 times; a table of each one's median and spread and the ratio of the
# medians, also as JSON in build/bench-xen/bench-xen.json
# (tests/xenvm/bench-table.sh). Asserts no timing. A quick look:
# make bench-xen BENCH_ROUNDS=1 BENCH_SECONDS=3
BENCH_ROUNDS  ?= 3
BENCH_SECONDS ?= 10
bench-xen: deps
	$(MAKE) images build
	@rm -rf $(B)/bench-xen && mkdir -p $(B)/bench-xen; rc=0; \
	for r in $$(seq 1 $(BENCH_ROUNDS)); do for s in $(BENCH_SCENARIOS); do \
		IPNB_DOM0_ARGS="ipnb.bench_seconds=$(BENCH_SECONDS)" tests/xenvm/run.sh $$s || rc=1; \
		cp $(B)/runs/$$s/serial.txt $(B)/bench-xen/round$$r-$$s.txt; \
	done; done; \
	tests/xenvm/bench-table.sh $(B)/bench-xen/bench-xen.json $(B)/bench-xen/round*.txt; exit $$rc

# ---- fuzzing (libFuzzer) ------------------------------------------------------
# `make fuzz` builds the targets in tests/fuzz/ (docs/testing.md, "Fuzzing")
# and runs each for FUZZ_SECONDS, starting from the committed seeds in
# tests/fuzz/corpus/<target>/. New corpus entries go to
# build/fuzz/corpus-<target>/, crash inputs to build/fuzz/<target>-crash-*,
# the fuzzer's output to build/fuzz/<target>.log. It fails if any target
# finds something. `make build/fuzz/fuzz_<target>` only builds one.
FUZZ_TARGETS := frame txreq addr gso dp xenbus
FUZZ_SECONDS ?= 30
# Every target links the same production files, unmodified.
FUZZ_SRC     := $(CORE_SRC) $(DP_SRC) $(FAKE_SRC) $(FAKE_CLOCK)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)
# -close_fd_mask=2: the daemon's log lines (a disabled vif, ...) would fill
# the log; libFuzzer and the sanitizers still report on their own copy.
FUZZ_OPTS    := -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -close_fd_mask=2
# fuzz_dp's and fuzz_xenbus's inputs are programs: let them be long from the start.
FUZZ_DP_OPTS := -len_control=0 -max_len=1024

.PHONY: fuzz-build
fuzz-build: $(FUZZ_BINS)

$(foreach t,$(FUZZ_TARGETS),$(eval $(B)/fuzz/fuzz_$(t): $(call obj,fuzz,tests/fuzz/fuzz_$(t).c $(FUZZ_SRC))))
$(FUZZ_BINS):
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^

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
		case $$t in dp|xenbus) opts="$(FUZZ_DP_OPTS)";; *) opts=;; esac; \
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

# Everything `make` builds; the downloaded packages ($(DEBS)) and the Debian
# dom0's base stay, since fetching them again takes a minute and they never
# go stale silently (the stamp names the package set; base.key the base's
# recipe). `make distclean` removes them too.
.PHONY: distclean
clean:
	rm -rf $(O) $(B)/bin $(B)/unit-tests $(B)/fuzz $(B)/bench $(B)/runs $(IMG) $(B)/phases $(B)/repeat
	rm -f $(DEBROOT)/root.img $(DEBROOT)/initrd.cpio $(DEBROOT)/.stamp
distclean:
	rm -rf $(B)

# ---- Debian package -------------------------------------------------------------
# make deb: build/deb/ipnetback_<version>_amd64.deb from a copy of this
# tree (so that the package build's own `make clean` leaves this build/
# alone), then lintian, which must report no error. The package's version
# (debian/changelog) must be the one the programs report (version.h). Needs debhelper,
# dpkg-dev and lintian (make deps).
deb:
	@v=$$(dpkg-parsechangelog -S Version); [ "$$v" = "$(VERSION)" ] || \
		{ echo "deb: debian/changelog says $$v, include/ipnb/version.h $(VERSION)"; exit 1; }
	rm -rf $(B)/deb && mkdir -p $(B)/deb/src
	tar -c --exclude=./build --exclude=./.git -f - . | tar -x -C $(B)/deb/src -f -
	cd $(B)/deb/src && dpkg-buildpackage -us -uc -b >../build.log 2>&1 \
		|| { tail -n 40 ../build.log; exit 1; }
	lintian --fail-on error $(B)/deb/ipnetback_$(VERSION)_amd64.deb
	@echo "deb: $(B)/deb/ipnetback_$(VERSION)_amd64.deb"

-include $(shell find $(O) -name '*.d' 2>/dev/null)
