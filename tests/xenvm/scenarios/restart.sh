# SPDX-License-Identifier: MIT
# Restart without the guests noticing (issue 11), and a stalled daemon
# (threat list, reliability): while two TCP streams of at least 32 MiB run
# (g1 -> g2 between guests, the external host -> g1 over the uplink) and dom0 and the
# external host each ping a guest ten times a second, ipnetbackd is killed
# with SIGKILL and started again, five times; then stopped with SIGTERM and
# started again, five times; then xenstored is live-updated, and the daemon
# is stopped (SIGSTOP) for 30 s. No xl command runs meanwhile. Finally
# `ipnetback shutdown --disconnect` hands the vifs back and removes the host
# port.
. /ipnb/lib.sh

ipnb_uplink_start || fatal "uplink or ipnetbackd set-up failed"
ipnb_guest g1 11 || fatal "create g1"
ipnb_guest g2 12 || fatal "create g2"
vm_wait g1 g2 || fatal "guests did not boot"
check "g1 pings g2" vm_exec g1 "ping -c 1 -W 3 10.99.0.12"
check "the external host pings g1" ext "ping -c 1 -W 3 10.99.0.11"
check "dom0 pings g2 through ipnb0" ping -c 1 -W 3 10.99.0.12

g1fe=/local/domain/$(domid g1)/device/vif/0/state
g2fe=/local/domain/$(domid g2)/device/vif/0/state
g1be=/local/domain/0/backend/vif/$(domid g1)/0/state
g2be=/local/domain/0/backend/vif/$(domid g2)/0/state

# Every xenbus state of both vifs, frontend and backend, every 0.2 s, for
# as long as the transfers run: each must read 4 (Connected) throughout.
watch_states() {
	: >/tmp/restart-states
	(
		while [ -e /tmp/restart-watching ]; do
			xenstore-read "$g1fe" "$g2fe" "$g1be" "$g2be" 2>&1 | tr '\n' ' ' >>/tmp/restart-states
			echo >>/tmp/restart-states
			sleep 0.2
		done
	) &
	watch_pid=$!
}
states_connected() {
	local bad
	bad=$(grep -v -c '^4 4 4 4 $' /tmp/restart-states)
	log "xenbus states sampled $(wc -l </tmp/restart-states) times, $bad not all Connected"
	[ "$bad" = 0 ] || { sort /tmp/restart-states | uniq -c | head -n 5; return 1; }
}

# TCP streams that run through a whole round of restarts, whatever the
# link's speed: the sender sends an 8 MiB random chunk over and over until
# told to stop, and counts the chunks; the receiver keeps only the SHA-256
# of what it got (a guest has 128 MiB of memory: no room for the data), and
# the sender hashes as many chunks afterwards. busybox nc runs the sending
# loop with the connection as its stdout (-e), so that nc's own small copy
# buffer is not in the way, and gives up only after 60 s without progress.
# Files /tmp/ipnb-st-PORT.* on the sender.
stream_start() { # FROM TO ADDR PORT
	local f=/tmp/ipnb-st-$4
	tcp_listen "$2" "$4" sha || return 1
	on "$1" "rm -f $f.*; dd if=/dev/urandom of=$f.bin bs=1M count=8 2>/dev/null && printf '#!/bin/sh\nwhile [ ! -e $f.stop ]; do cat $f.bin || exit 1; echo >>$f.reps; done\n' >$f.send && chmod +x $f.send && ( (busybox nc -w 60 $3 $4 -e $f.send; echo \$? >$f.done) >/dev/null 2>&1 &)"
}
streams_start() { stream_start g1 g2 10.99.0.12 5001 && stream_start ext g1 10.99.0.11 5002; }
streams_running() {
	! vm_exec g1 "test -e /tmp/ipnb-st-5001.done" && ! ext "test -e /tmp/ipnb-st-5002.done"
}
streams_stop() { vm_exec g1 "touch /tmp/ipnb-st-5001.stop" && ext "touch /tmp/ipnb-st-5002.stop"; }
word2() { awk '{ print $2; exit }'; }
# stream_reps FROM PORT: the 8 MiB chunks the sender has written so far.
stream_reps() { on "$1" "cat /tmp/ipnb-st-$2.reps 2>/dev/null | wc -l" | word2; }
# streams_grow NAME: within 300 s, each stream reaches 4 chunks (32 MiB) and
# one more than it had when the last daemon started, whatever the
# machine's speed, and is stopped as soon as it has: g1 hashes what the
# external host sends while it sends to g2, on its one vCPU, so the g1 ->
# g2 stream speeds up once the other one ends.
streams_grow() {
	local name=$1 w1 w2 n1 n2 done1= done2= end=$(($(date +%s) + 300))
	w1=$(($(stream_reps g1 5001) + 1))
	w2=$(($(stream_reps ext 5002) + 1))
	[ "$w1" -ge 4 ] || w1=4
	[ "$w2" -ge 4 ] || w2=4
	while [ -z "$done1" ] || [ -z "$done2" ]; do
		if [ -z "$done2" ]; then
			n2=$(stream_reps ext 5002)
			[ "${n2:-0}" -ge "$w2" ] && done2=1 && ext "touch /tmp/ipnb-st-5002.stop"
		fi
		if [ -z "$done1" ]; then
			n1=$(stream_reps g1 5001)
			[ "${n1:-0}" -ge "$w1" ] && done1=1 && vm_exec g1 "touch /tmp/ipnb-st-5001.stop"
		fi
		[ "$(date +%s)" -lt "$end" ] || break
		sleep 1
	done
	log "$name: g1 -> g2 at ${n1:-?} chunks (wanted $w1), external -> g1 at ${n2:-?} (wanted $w2)"
	log "$name: g1's and g2's counters that are not 0: $(for g in g1 g2; do
		printf '%s: ' "$g"
		ipnetback vif show "$(domid $g)/0" --json | grep -o '"[a-z_0-9]*": [1-9][0-9]*' | tr '\n' ' '; done)"
	check "$name: g1 -> g2 carries on after the last restart, to 32 MiB or more" test -n "$done1"
	check "$name: external -> g1 carries on after the last restart, to 32 MiB or more" test -n "$done2"
}
stream_intact() { # FROM TO PORT
	local f=/tmp/ipnb-st-$3 a b n
	within 120 on "$1" "test -s $f.done" || { echo "the stream to port $3 did not end"; return 1; }
	n=$(on "$1" "wc -l <$f.reps" | word2)
	a=$(on "$1" "i=0; while [ \$i -lt $n ]; do cat $f.bin; i=\$((i + 1)); done | sha256sum" | word2)
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		b=$(on "$2" "cat /tmp/ipnb-rx-$3.sha" | word2)
		[ -n "$b" ] && break
		sleep 0.5
	done
	log "$1 -> $2: $n chunks of 8 MiB; sent $a, received $b"
	[ -n "$a" ] && [ "$a" = "$b" ] && [ "$n" -ge 4 ]
}

# Pings at 10/s: dom0 -> g2 (through the host port) and the external host ->
# g1 (through the uplink), for SECONDS.
pings_start() {
	ping -i 0.1 -w "$1" -W 1 10.99.0.12 >/tmp/restart-ping-dom0 2>&1 &
	ping_pid=$!
	ext "(ping -i 0.1 -w $1 -W 1 10.99.0.11 >/tmp/ipnb-restart-ping 2>&1 &)"
}
# pings_check NAME RESTARTS RESTART-MS: how long each restart cut the guests
# off, as metrics: the pings lost and the longest run of lost replies (ms).
# The outage is a timing on a shared, emulated machine, so the check fails
# only a broken restart, one that cuts the guests off for longer than the
# restart itself (issue 11): a longest outage of RESTART-MS (the slowest
# restart, until the new daemon answered) plus 1 s or more (a vif not taken
# over, a port not reopened), or more pings lost per restart than that time
# holds, plus 10. The issue's target, 3 pings (300 ms at 10/s), is
# reported by the metrics and in docs/performance.md, not asserted.
ping_gaps() { # reads ping output: "LOST LONGEST-GAP-MS"
	awk '/seq=/ { sub(/.*seq=/, ""); s = $1 + 0; if (n++ && s - last - 1 > gap) gap = s - last - 1; last = s }
		/packets transmitted/ { tx = $1; rx = $4 }
		END { printf "%d %d\n", tx - rx, gap * 100 }'
}
pings_one() { # WHO "LOST GAP" RESTARTS RESTART-MS
	local gap=$((${4} + 1000)) lost=$((${3} * (10 + ${4} / 100)))
	metric "restart.$name.lost_pings_$1" "${2% *}" pings
	metric "restart.$name.outage_ms_$1" "${2#* }" ms
	check "$1: every outage under the restart + 1 s (longest ${2#* } ms, bound $gap), at most $lost pings lost (${2% *} over $3 restarts)" \
		test "${2#* }" -lt "$gap" -a "${2% *}" -le "$lost"
}
pings_check() {
	local name=$1 n=$2 ms=$3 d e
	sleep 1
	d=$(ping_gaps </tmp/restart-ping-dom0)
	e=$(ext "cat /tmp/ipnb-restart-ping" | sed 's/^  \[ext\] //' | ping_gaps)
	log "dom0 -> g2: lost, longest gap (ms): $d; external -> g1: $e"
	pings_one dom0_to_g2 "$d" "$n" "$ms"
	pings_one external_to_g1 "$e" "$n" "$ms"
}

# restart_round NAME SIGNAL: five restarts with that signal, 2 s apart.
restart_round() {
	local name=$1 sig=$2 i t0 t1 ms max=0
	check "$name: TCP streams g1 -> g2 and external -> g1 started" streams_start
	touch /tmp/restart-watching
	watch_states
	pings_start 30
	sleep 2
	for i in 1 2 3 4 5; do
		t0=$(cut -d' ' -f1 /proc/uptime)
		kill "-$sig" "$IPNB_DAEMON_PID"
		wait "$IPNB_DAEMON_PID" 2>/dev/null
		ipnb_start || { check "$name: ipnetbackd started again ($i)" false; break; }
		t1=$(cut -d' ' -f1 /proc/uptime)
		ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
		[ "$ms" -gt "$max" ] && max=$ms
		log "$name $i: ipnetbackd pid $IPNB_DAEMON_PID answers $ms ms after the $sig"
		sleep 2
	done
	metric "restart.$name.daemon_restart_ms_max" "$max" ms
	# The new daemon announced both guests' addresses on the LAN again
	# (gratuitous ARP, unsolicited NA), as it registered them.
	check "$name: the last daemon announced all 4 guest addresses on the uplink" \
		within 5 ctl_above 3 announcements uplink
	check "$name: both streams ran through every restart" streams_running
	streams_grow "$name"
	streams_stop
	check "$name: g1 -> g2: at least 32 MiB, intact (SHA-256)" stream_intact g1 g2 5001
	check "$name: external -> g1: at least 32 MiB, intact (SHA-256)" stream_intact ext g1 5002
	rm -f /tmp/restart-watching
	wait "$watch_pid" "$ping_pid"
	check "$name: every vif stayed Connected, frontend and backend" states_connected
	pings_check "$name" 5 "$max"
	check "$name: g1 pings g2 afterwards" vm_exec g1 "ping -c 1 -W 3 10.99.0.12"
}

restart_round kill KILL
restart_round term TERM
check "no vif was disconnected by any restart (daemon's count)" \
	test "$(ctl_count disconnects daemon)" = 0
check "ipnb0 and its routes are the ones from before" sh -c \
	"ip route show 10.99.0.12 | grep -q 'dev ipnb0' && ip -6 route show fd00::11 | grep -q 'dev ipnb0'"

# xenstored's own restart: a live update replaces the xenstored process and
# keeps every connection, so ipnetbackd keeps its watches (a restart that
# loses them is covered against the fake: test_xenbus.c, "xenstored
# restart").
registered() { ipnetback vif show "$(domid g1)/0" --json | grep -q "\"$1\""; }
lu_bin=$(ls /usr/lib/xen-*/bin/xenstored | head -n 1)
check "xenstored live update ($lu_bin)" xenstore-control live-update "$lu_bin"
check "xenstored is the updated process (-U)" sh -c "ps | grep -q '[x]enstored.* -U'"
check "after it, ipnetback ip add is applied (the daemon's watches work)" sh -c \
	"ipnetback ip add $(domid g1) 10.99.0.31 >/dev/null"
check "10.99.0.31 registered to g1" within 10 registered 10.99.0.31
check "the daemon never lost its xenstore connection" test "$(ctl_count xenstore_lost daemon)" = 0
check "g1 pings g2 after the live update" vm_exec g1 "ping -c 1 -W 3 10.99.0.12"

# A daemon that stops for 30 s (SIGSTOP: as if it hung, or dom0 was starved):
# the guests wait, and everything works again once it runs.
pings_start 36
kill -STOP "$IPNB_DAEMON_PID"
t_stop=$SECONDS
# The hotplug script wants an answer, not a socket file: with the daemon
# stopped it gives up after IPNETBACK_WAIT seconds and says why in
# hotplug-error (in a directory of dom0's outside backend/vif, which the
# daemon watches).
hp=/local/domain/0/ipnb-test/vif-hotplug
hotplug() { XENBUS_PATH=$hp IPNETBACK_WAIT=2 /etc/xen/scripts/vif-ipnetback online 2>/dev/null; }
check_fails "stall: vif-ipnetback online fails while the daemon does not answer" hotplug
check "... and writes hotplug-error and hotplug-status=error" sh -c \
	"xenstore-read $hp/hotplug-error | grep -q 'does not answer' && [ \"\$(xenstore-read $hp/hotplug-status)\" = error ]"
xenstore-rm "$hp"
left=$((30 - (SECONDS - t_stop)))
[ "$left" -gt 0 ] && sleep "$left"
kill -CONT "$IPNB_DAEMON_PID"
check "stall: dom0 reaches g2 within 2 s of the daemon running again" within 2 ping -c 1 -W 1 10.99.0.12
check "stall: g1 reaches g2" vm_exec g1 "ping -c 1 -W 3 10.99.0.12"
check "stall: the external host reaches g1" ext "ping -c 1 -W 3 10.99.0.11"
wait "$ping_pid"
check "stall: the vifs are still Connected" sh -c \
	"[ \"\$(xenstore-read $g1fe $g2fe $g1be $g2be | tr '\n' ' ')\" = '4 4 4 4 ' ]"
check "stall: the daemon is the same process" kill -0 "$IPNB_DAEMON_PID"
check "vif-ipnetback online succeeds once the daemon answers" sh -c \
	"XENBUS_PATH=$hp /etc/xen/scripts/vif-ipnetback online && [ \"\$(xenstore-read $hp/hotplug-status)\" = connected ]"
xenstore-rm "$hp"

# Handing the vifs back: for the kernel's netback, or another backend.
check "ipnetback shutdown --disconnect" ipnetback shutdown --disconnect
check "the daemon exited 0" wait "$IPNB_DAEMON_PID"
check "backend states are Closed" sh -c "[ \"\$(xenstore-read $g1be $g2be | tr '\n' ' ')\" = '6 6 ' ]"
fe_closed() { [ "$(xenstore-read "$g1fe")" -ge 5 ] && [ "$(xenstore-read "$g2fe")" -ge 5 ]; }
check "the frontends follow (Closing or Closed)" within 10 fe_closed
check_fails "ipnb0 is gone" ip link show ipnb0
check_fails "and with it dom0's route to g2" sh -c "ip route show 10.99.0.12 | grep -q ipnb0"
finish
