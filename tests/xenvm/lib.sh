# SPDX-License-Identifier: MIT
# Scenario library, sourced by tests/xenvm/scenarios/*.sh inside dom0 (bash).
#
# Checks print "@@IPNB-CHECK PASS|FAIL <what>", metrics print
# "@@IPNB-METRIC <name> <value> <unit>", and finish() prints the scenario's
# result and returns its exit code. The host harness (run.sh) turns these
# markers into its own exit status.

IPNB_SCENARIO=${IPNB_SCENARIO:-$(basename "$0" .sh)}
IPNB_FAILS=0
IPNB_CHECKS=0
IPNB_XL=/ipnb/xl
IPNB_KERNEL=/var/lib/ipnb/vmlinux
IPNB_RAMDISK=/var/lib/ipnb/domu.cpio

log() { echo "[$(cut -d' ' -f1 /proc/uptime)] $*"; }

# check DESC CMD...: CMD must succeed.
check() {
	local desc=$1
	shift
	IPNB_CHECKS=$((IPNB_CHECKS + 1))
	if "$@"; then
		echo "@@IPNB-CHECK PASS $desc"
	else
		echo "@@IPNB-CHECK FAIL $desc"
		IPNB_FAILS=$((IPNB_FAILS + 1))
	fi
}

# check_fails DESC CMD...: CMD must fail.
check_fails() {
	local desc=$1
	shift
	IPNB_CHECKS=$((IPNB_CHECKS + 1))
	if "$@"; then
		echo "@@IPNB-CHECK FAIL $desc (unexpectedly succeeded)"
		IPNB_FAILS=$((IPNB_FAILS + 1))
	else
		echo "@@IPNB-CHECK PASS $desc"
	fi
}

metric() { echo "@@IPNB-METRIC $1 $2 $3"; }

# within SECONDS CMD...: CMD succeeds within SECONDS (tried every 0.2 s),
# for effects that follow an xenstore write asynchronously.
within() {
	local end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}

# Aborts the scenario: used when a precondition (boot, xl create) fails and
# nothing after it can be meaningful.
fatal() {
	echo "@@IPNB-CHECK FAIL $*"
	IPNB_FAILS=$((IPNB_FAILS + 1))
	finish
	exit 1
}

# finish also stops the daemon the scenario started, if it still runs, and
# checks it exits cleanly: SIGTERM leaves the vifs attached, so a scenario
# that runs next in the same boot starts its own daemon, which takes them
# over (run.sh, several scenarios).
finish() {
	if [ -n "${IPNB_DAEMON_PID:-}" ] && kill -0 "$IPNB_DAEMON_PID" 2>/dev/null; then
		check "ipnetbackd exits cleanly at the end (SIGTERM)" ipnb_stop
	fi
	if [ "$IPNB_FAILS" -ne 0 ] || [ "$IPNB_CHECKS" -eq 0 ]; then
		dump_diagnostics
		echo "@@IPNB-RESULT $IPNB_SCENARIO FAIL $IPNB_FAILS of $IPNB_CHECKS checks failed"
		return 1
	fi
	echo "@@IPNB-RESULT $IPNB_SCENARIO PASS $IPNB_CHECKS checks"
	return 0
}

dump_diagnostics() {
	local f
	echo "---- diagnostics: xl list"
	xl list 2>&1
	if [ -n "${IPNB_DAEMON_LOG:-}" ]; then
		echo "---- diagnostics: $IPNB_DAEMON_LOG (tail)"
		tail -n 60 "$IPNB_DAEMON_LOG"
	fi
	for f in /var/log/xen/console/guest-*.log /var/log/xen/xl-*.log; do
		[ -f "$f" ] || continue
		echo "---- diagnostics: $f (tail)"
		tail -n 30 "$f"
	done
	echo "---- diagnostics: dmesg (tail)"
	dmesg | tail -n 30
}

# domid_of NAME: sets IPNB_DOMID to the guest's domain id. Every fork and
# exec costs dom0 about 0.1 s under TCG (PV page-table updates are
# emulated), and the helpers ask for the id on every call, so the answer is
# kept in /tmp, read with builtins, and trusted only while
# /local/domain/ID/name still says NAME (a destroyed and re-created guest
# gets a new id); xl is asked otherwise.
domid_of() {
	local f=/tmp/ipnb-domid-$1
	IPNB_DOMID=
	[ -f "$f" ] && read -r IPNB_DOMID <"$f"
	if [ -n "$IPNB_DOMID" ] &&
		[ "$(xenstore-read "/local/domain/$IPNB_DOMID/name" 2>/dev/null)" = "$1" ]; then
		return 0
	fi
	IPNB_DOMID=$(xl domid "$1" 2>/dev/null) || return 1
	echo "$IPNB_DOMID" >"$f"
}

# domid NAME: prints it.
domid() { domid_of "$1" && echo "$IPNB_DOMID"; }

# Kernel arguments of every test guest, ahead of the scenario's `extra`:
# boot work a test guest has no use for, which under TCG costs seconds of
# CPU per boot (measured with initcall_debug): the crypto self-tests, the
# W+X page-table walk of rodata, and info-level console lines (warnings
# and errors, netfront's among them, still reach the console log).
IPNB_GUEST_ARGS="loglevel=5 cryptomgr.notests rodata=off"

# vm_start NAME CFG [xl key=value overrides...]: xl create a domU from one of
# the repo's xl configs (tests/xenvm/xl/). Does not wait for it to boot.
vm_start() {
	local name=$1 cfg=$2 a extra="extra=\"$IPNB_GUEST_ARGS\""
	local -a args=()
	shift 2
	for a in "$@"; do
		case "$a" in
		extra=\"*) extra="extra=\"$IPNB_GUEST_ARGS ${a#extra=\"}" ;;
		*) args+=("$a") ;;
		esac
	done
	if ! xl create "$IPNB_XL/$cfg" "name=\"$name\"" \
		"kernel=\"$IPNB_KERNEL\"" "ramdisk=\"$IPNB_RAMDISK\"" "$extra" "${args[@]}" \
		>"/tmp/xl-create-$name.log" 2>&1; then
		sed "s/^/  [xl create $name] /" "/tmp/xl-create-$name.log"
		return 1
	fi
	log "vm $name created (domid $(domid "$name"))"
}

# vm_wait NAME...: wait until each domU's test agent is up (60 s at most).
vm_wait() {
	local name id i
	for name in "$@"; do
		id=$(domid "$name") || { echo "vm_wait: no domain $name"; return 1; }
		for i in $(seq 1 600); do
			[ "$(xenstore-read "/local/domain/$id/data/ipnb-ready" 2>/dev/null)" = 1 ] && break
			sleep 0.1
		done
		[ "$i" -lt 600 ] || { echo "vm_wait: $name agent not ready"; return 1; }
		log "vm $name ready"
	done
}

# vm_create NAME CFG [overrides...]: vm_start, then vm_wait.
vm_create() {
	vm_start "$@" && vm_wait "$1"
}

# vm_exec [-t SECONDS] NAME CMD: run CMD (sh) inside the domU's test agent,
# print its output and return its exit status: 124 if no answer came
# within SECONDS (60) and 5 more, 125 if the answer was not this command's
# (tests/xenvm/agent.c has the protocol). The sequence number lives in a
# file because callers often run vm_exec in a $(...) subshell; builtins
# read and write it (see domid_of).
vm_exec() {
	local tmo=60 seq=0
	if [ "$1" = -t ]; then tmo=$2; shift 2; fi
	domid_of "$1" || { echo "vm_exec: no domain $1"; return 1; }
	[ -f /tmp/ipnb-seq ] && read -r seq </tmp/ipnb-seq
	seq=$((seq + 1))
	echo "$seq" >/tmp/ipnb-seq
	ipnb-agent exec "$1" "$IPNB_DOMID" "$seq" "$tmo" "$2"
}

# ext CMD: run CMD (bash, one line: the agent reads one) on the external
# host (the network namespace that owns the TAP behind dom0's uplink), over
# the management link. Only the
# agent's final "@@RC SEQ STATUS" line for this command counts: without it
# (the link dropped, the agent died) the command failed (124).
ext() {
	local line rc= seq
	seq=$(($(cat /tmp/ipnb-ext-seq 2>/dev/null || echo 0) + 1))
	echo "$seq" >/tmp/ipnb-ext-seq
	exec 3<>/dev/tcp/10.0.2.100/7000 || { echo "ext: management link down"; return 1; }
	printf '%s %s\n' "$seq" "$1" >&3
	while IFS= read -r line <&3; do
		case "$line" in
		"@@RC $seq "*) rc=${line#"@@RC $seq "} ;;
		*) echo "  [ext] $line" ;;
		esac
	done
	exec 3<&-
	[ -n "$rc" ] || { echo "ext: no status for command $seq ('$1')"; return 124; }
	return "$rc"
}

# ipnb_start: run ipnetbackd (the kernel netback must not be loaded) and
# wait until it answers on its control socket (10 s at most).
# IPNB_DAEMON=ipnetbackd-asan selects the sanitizer build; IPNB_DAEMON_ARGS
# adds options (e.g. -u eth0). The tests run the seccomp allow-list in kill
# mode (IPNB_SANDBOX, default kill): a call missing from it kills the daemon
# with SIGSYS and fails the scenario, with the kernel's audit line shown.
ipnb_start() {
	grep -q '^xen_netback ' /proc/modules && { echo "xen-netback is loaded"; return 1; }
	ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=1:log_path=/tmp/ipnetbackd.asan \
		"${IPNB_DAEMON:-ipnetbackd}" -d -S "${IPNB_SANDBOX:-kill}" ${IPNB_DAEMON_ARGS:-} \
		>>/tmp/ipnetbackd.log 2>&1 &
	IPNB_DAEMON_PID=$!
	IPNB_DAEMON_LOG=/tmp/ipnetbackd.log
	# Up once this very process answers on the control socket: a killed
	# predecessor's socket file may still be there.
	for _ in $(seq 1 100); do
		[ "$(ctl_count pid daemon 2>/dev/null)" = "$IPNB_DAEMON_PID" ] && return 0
		kill -0 "$IPNB_DAEMON_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# ctl_count FIELD ARGS...: a numeric field of `ipnetback ARGS... --json`,
# e.g. `ctl_count too_big uplink` or `ctl_count watch_events daemon`.
ctl_count() {
	local f=$1
	shift
	ipnetback "$@" --json | grep -o "\"$f\": [0-9]*" | awk '{ print $2 }'
}

# ctl_settled FIELD ARGS...: like ctl_count, once the figure has stopped
# moving (the same in two reads 0.5 s apart, 10 s at most): a counter read
# right after its cause may miss the event still queued in the daemon.
ctl_settled() {
	local a b i
	b=$(ctl_count "$@")
	for i in $(seq 1 20); do
		a=$b
		sleep 0.5
		b=$(ctl_count "$@")
		[ "$a" = "$b" ] && break
	done
	echo "$b"
}

# ctl_above VALUE FIELD ARGS...: that field is above VALUE (for within).
ctl_above() {
	local v=$1
	shift
	[ "$(ctl_count "$@")" -gt "$v" ] 2>/dev/null
}

# vif_counter NAME FIELD: a numeric field of the guest's vif 0 as ipnetbackd
# reports it (`ipnetback vif show --json`), e.g. rx_packets or spoofed_ip.
vif_counter() { ctl_count "$2" vif show "$(domid "$1")/0"; }

# ipnb_guest NAME LAST-OCTET: a guest served by ipnetbackd with 10.99.0.N and
# fd00::N registered through the xl vif line (not yet booted: vm_wait).
# A guest an earlier scenario of this boot made with the same arguments is
# kept (a boot costs ~15 s of TCG) if its vif 0 is still the one it was
# created with and both ends are Connected; its registered addresses and its
# eth0 are then put back as they were made (vm_net_reset). Otherwise it is
# made again.
ipnb_guest() {
	local be have=
	[ -f "/tmp/ipnb-guest-$1" ] && read -r have <"/tmp/ipnb-guest-$1"
	if domid_of "$1"; then
		be=/local/domain/0/backend/vif/$IPNB_DOMID/0
		# A vif 0 attached anew (xl network-attach may re-use devid 0)
		# may carry keys this one never had: rate, vifname.
		if [ "$have" = "$2" ] &&
			[ "$(xenstore-read "$be/state" "$be/mac" "/local/domain/$IPNB_DOMID/device/vif/0/state" 2>/dev/null |
				tr '\n' ' ')" = "4 00:16:3e:00:00:$2 4 " ] &&
			! xenstore-exists "$be/rate" && ! xenstore-exists "$be/vifname"; then
			log "vm $1 kept from an earlier scenario (domid $IPNB_DOMID)"
			xenstore-write "$be/ip" "10.99.0.$2 fd00::$2" || return 1
			vm_net_reset "$1" "$2"
			return
		fi
		xl destroy "$1" || return 1
	fi
	rm -f "/tmp/ipnb-guest-$1"
	vm_start "$1" pv-guest.cfg \
		"vif=['mac=00:16:3e:00:00:$2,ip=10.99.0.$2 fd00::$2,script=vif-ipnetback']" \
		"extra=\"ipnb.name=$1 ipnb.ip4=10.99.0.$2/24 ipnb.ip6=fd00::$2/64\"" &&
		echo "$2" >"/tmp/ipnb-guest-$1"
}

# vm_net_reset NAME LAST-OCTET: eth0 as domu-init.sh sets it up, whatever an
# earlier scenario did to it (extra addresses, routes, neighbours, another
# MAC or MTU, the link down). Down and up again flushes the routes and
# neighbours through it, and the IPv6 addresses, so both families are
# added again.
vm_net_reset() {
	vm_exec "$1" "ip() { /sbin/ip \"\$@\"; }
		ip link set eth0 down && ip addr flush dev eth0 &&
		ip link set eth0 address 00:16:3e:00:00:$2 mtu 1500 &&
		ip link set eth0 up && ip addr add 10.99.0.$2/24 dev eth0 &&
		ip -6 addr add fd00::$2/64 dev eth0 nodad" >/dev/null
}

# ipnb_stop: SIGTERM the daemon; succeeds only if it exits 0 and the
# sanitizers (if built in) reported nothing, leaks included.
ipnb_stop() {
	local rc
	kill -TERM "$IPNB_DAEMON_PID"
	wait "$IPNB_DAEMON_PID"
	rc=$?
	if ls /tmp/ipnetbackd.asan* >/dev/null 2>&1; then
		# Shown once: the report belongs to this daemon, not the next.
		cat /tmp/ipnetbackd.asan*
		rm -f /tmp/ipnetbackd.asan*
		return 1
	fi
	[ "$rc" -eq 0 ] || {
		echo "ipnetbackd exited with $rc"
		# 159 = 128 + SIGSYS: a system call off the allow-list.
		dmesg | grep 'type=1326' | tail -n 5
		return 1
	}
}

# Memory checks. A "memory stays flat" check measures the plain daemon: the
# sanitizer build's RSS includes ASan's quarantine and shadow memory, which
# grow by design as memory is freed, so that build's job is only to exit
# with no leak and no undefined-behaviour report (ipnb_stop). The plain
# daemon is sampled after a warm-up, several times over a long run, and the
# check bounds the least-squares slope of RSS against the number of events
# (kB per 1000 events): a single before/after pair cannot tell the
# allocator settling from a leak.

# rss_kb PID: resident set size in kB, counted page by page. Not VmRSS:
# Linux 6.1 keeps a thread's RSS count in a per-thread cache that reaches
# the figure in /proc/PID/status only every 64 page faults, so VmRSS moves in
# steps of up to 256 kB. smaps_rollup walks the page tables, and is exact.
rss_kb() { awk '/^Rss:/ { print $2 }' "/proc/$1/smaps_rollup"; }

# mem_sample FILE PID EVENTS: record "EVENTS RSS" in FILE.
mem_sample() { echo "$3 $(rss_kb "$2")" >>"$1"; }

# mem_slope FILE: kB per 1000 events over FILE's samples (at least 3).
mem_slope() {
	awk '{ n++; x[n] = $1; y[n] = $2; sx += $1; sy += $2 }
	END {
		if (n < 3) exit 1
		mx = sx / n; my = sy / n
		for (i = 1; i <= n; i++) { dx = x[i] - mx; sxx += dx * dx; sxy += dx * (y[i] - my) }
		if (sxx == 0) exit 1
		printf "%.1f\n", 1000 * sxy / sxx
	}' "$1"
}

# mem_events FILE: the events between FILE's first and last samples.
mem_events() { echo $(($(tail -n1 "$1" | cut -d' ' -f1) - $(head -n1 "$1" | cut -d' ' -f1))); }

# mem_flat FILE BOUND: the slope is at most BOUND kB per 1000 events.
mem_flat() {
	local s
	sed 's/^/  [rss] events kB: /' "$1"
	s=$(mem_slope "$1") || { echo "mem_flat: too few samples in $1, or no events between them"; return 1; }
	awk -v s="$s" -v b="$2" 'BEGIN { exit !(s <= b) }'
}

# ipnb_uplink_start [DAEMON-ARGS...]: dom0's eth0 as ipnetbackd's uplink
# (dom0 keeps 10.99.0.2 and fd00::2 on it), then ipnetbackd with the given
# options (default: -u eth0).
# Repeatable: a scenario may find it done by an earlier one in the same boot.
ipnb_uplink_start() {
	ip addr replace 10.99.0.2/24 dev eth0 &&
		ip -6 addr replace fd00::2/64 dev eth0 nodad &&
		ipnetback-uplink eth0 || return 1
	IPNB_DAEMON_ARGS="${*:--u eth0}"
	ipnb_start
}

# Runs CMD in dom0, its output marked as vm_exec and ext mark theirs.
on_dom0() {
	local out rc
	out=$(timeout 120 sh -c "$1" 2>&1)
	rc=$?
	[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/  [dom0] /'
	return $rc
}

# on WHO CMD: run CMD in guest WHO, on the external host if WHO is "ext",
# or here in dom0 if WHO is "dom0".
on() {
	case "$1" in
	ext) ext "$2" ;;
	dom0) on_dom0 "$2" ;;
	*) vm_exec -t 120 "$1" "$2" ;;
	esac
}

# Waits (10 s at most) until something listens on TCP port $1; works in
# busybox guests and on the external host alike.
listening() {
	printf 'for i in $(seq 1 50); do cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q ":%04X [0-9A-F:]* 0A " && exit 0; sleep 0.2; done; exit 1' "$1"
}

# tcp_listen WHO PORT [sha]: a receiver on WHO (a guest, "ext" or "dom0")
# that writes what arrives on TCP port PORT, once, to /tmp/ipnb-rx-PORT.bin,
# or with "sha" only its SHA-256 to /tmp/ipnb-rx-PORT.sha (for streams larger
# than a guest's memory). busybox nc runs a script with the connection as
# its stdin (-e): with its own stdin at EOF, nc would half-close at once,
# and a busybox nc sender takes that EOF as the end of the transfer.
tcp_listen() {
	local r=/tmp/ipnb-rx-$2 c=/tmp/ipnb-recv-$2 w="cat >/tmp/ipnb-rx-$2.bin"
	[ "${3:-}" = sha ] && w="sha256sum >/tmp/ipnb-rx-$2.sha"
	# One line: the external host's agent reads a single command line.
	on "$1" "rm -f $r.*; printf '#!/bin/sh\nexec $w\n' >$c; chmod +x $c; (timeout 600 busybox nc -l -p $2 -e $c >/dev/null 2>&1 &); $(listening "$2")"
}

# tcp_send_cmd ADDR PORT FILE: the command that sends FILE to ADDR:PORT.
tcp_send_cmd() { echo "busybox nc -w 60 $1 $2 -e cat $3"; }

# sha_of WHO FILE: FILE's SHA-256 on WHO.
sha_of() { on "$1" "sha256sum $2" | awk '{ print $2 }'; }

# tcp_transfer FROM TO ADDR MiB: send MiB of random data over TCP (busybox
# nc) from FROM to TO at ADDR; FROM and TO are guests, "ext" or "dom0". Succeeds only
# if the SHA-256 on both ends matches.
tcp_transfer() {
	local from=$1 to=$2 addr=$3 mb=$4 a b
	tcp_listen "$to" 5001 || return 1
	on "$from" "dd if=/dev/urandom of=/tmp/ipnb-tx.bin bs=1M count=$mb 2>/dev/null" || return 1
	on "$from" "$(tcp_send_cmd "$addr" 5001 /tmp/ipnb-tx.bin)" || return 1
	a=$(sha_of "$from" /tmp/ipnb-tx.bin)
	# The receiver finishes writing when the sender closes: allow it a moment.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		b=$(sha_of "$to" /tmp/ipnb-rx-5001.bin)
		[ "$a" = "$b" ] && break
		sleep 0.5
	done
	log "tcp_transfer $from -> $to: sent $a received $b"
	[ -n "$a" ] && [ "$a" = "$b" ]
}

# tcp_throughput NAME FROM TO ADDR: iperf3 for 5 s from FROM to TO at ADDR
# (guests, "ext" or "dom0"); reports the receiver's rate as metric NAME (Mbit/s).
tcp_throughput() {
	local name=$1 from=$2 to=$3 addr=$4 out rate
	on "$to" "(timeout 60 iperf3 -s -1 >/dev/null 2>&1 &); $(listening 5201)" || return 1
	out=$(on "$from" "iperf3 -c $addr -t 5 -f m") || { echo "$out"; return 1; }
	rate=$(echo "$out" | awk '/receiver/ { print $(NF-2) }' | tail -n1)
	[ -n "$rate" ] || { echo "$out"; return 1; }
	metric "$name" "$rate" Mbit/s
}
