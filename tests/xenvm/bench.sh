# SPDX-License-Identifier: MIT
# The paths `make bench-xen` measures, the same for every set-up (sourced
# after lib.sh by bench-kernel.sh and bench-ipnb.sh). Guests g1 (10.99.0.11)
# and g2 (10.99.0.12) are up; dom0 is 10.99.0.2, the external host
# 10.99.0.1. Each figure is a metric named SETUP.PATH.KIND, KIND one of
# tcp1 and tcp4 (iperf3 with 1 and 4 streams, Mbit/s at the receiver),
# rtt50 and rtt99 (median and 99th percentile of 50 pings, ms) and udp64
# (64-byte UDP datagrams received per second); bench-table.sh pairs the
# set-ups. BENCH_SECONDS (dom0's command line, from make bench-xen) sets
# iperf3's duration.
BENCH_SECONDS=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^ipnb\.bench_seconds=//p')
BENCH_SECONDS=${BENCH_SECONDS:-10}

# bench_tcp NAME FROM TO ADDR STREAMS
bench_tcp() {
	local out rate
	on "$3" "(timeout $((BENCH_SECONDS + 60)) iperf3 -s -1 >/dev/null 2>&1 &); $(listening 5201)" || return 1
	out=$(on "$2" "iperf3 -c $4 -t $BENCH_SECONDS -P $5 -f m") || { echo "$out"; return 1; }
	# With several streams the [SUM] line; with one, the stream's own.
	rate=$(echo "$out" | awk '/receiver/ { r = $(NF-2) } END { print r }')
	[ -n "$rate" ] || { echo "$out"; return 1; }
	metric "$1" "$rate" Mbit/s
}

# bench_rtt NAME FROM ADDR: 50 pings 0.2 s apart; the median and the 99th
# percentile (the second worst of 50) of the replies' times.
bench_rtt() {
	local t
	t=$(on "$2" "ping -c 50 -i 0.2 -W 2 $3" | sed -n 's/.*time=\([0-9.]*\) *ms.*/\1/p' | sort -n)
	[ "$(echo "$t" | grep -c .)" -ge 45 ] || return 1
	metric "$1.rtt50" "$(echo "$t" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" ms
	metric "$1.rtt99" "$(echo "$t" | awk '{ v[NR] = $1 } END { i = int(NR * 0.99 + 0.999); print v[i > NR ? NR : i] }')" ms
}

# bench_udp NAME FROM TO ADDR: unlimited 64-byte UDP datagrams for
# BENCH_SECONDS; what arrived per second (iperf3's receiver line: lost/total).
bench_udp() {
	local out pps
	on "$3" "(timeout $((BENCH_SECONDS + 60)) iperf3 -s -1 >/dev/null 2>&1 &); $(listening 5201)" || return 1
	out=$(on "$2" "iperf3 -c $4 -u -l 64 -b 0 -t $BENCH_SECONDS") || { echo "$out"; return 1; }
	pps=$(echo "$out" | awk -v t="$BENCH_SECONDS" '/receiver/ { split($(NF-2), a, "/"); r = (a[2] - a[1]) / t } END { if (r != "") printf "%.0f", r }')
	[ -n "$pps" ] || { echo "$out"; return 1; }
	metric "$1" "$pps" pkt/s
}

bench_paths() {
	local s=$1 n
	for n in 1 4; do
		check "TCP g1 -> g2, $n stream(s)" bench_tcp "$s.guest-guest.tcp$n" g1 g2 10.99.0.12 $n
		check "TCP external -> g1, $n stream(s)" bench_tcp "$s.ext-guest.tcp$n" ext g1 10.99.0.11 $n
		check "TCP g1 -> external, $n stream(s)" bench_tcp "$s.guest-ext.tcp$n" g1 ext 10.99.0.1 $n
		check "TCP dom0 -> g1, $n stream(s)" bench_tcp "$s.dom0-guest.tcp$n" dom0 g1 10.99.0.11 $n
		check "TCP g1 -> dom0, $n stream(s)" bench_tcp "$s.guest-dom0.tcp$n" g1 dom0 10.99.0.2 $n
	done
	check "ping g1 -> g2" bench_rtt "$s.guest-guest" g1 10.99.0.12
	check "ping external -> g1" bench_rtt "$s.ext-guest" ext 10.99.0.11
	check "UDP 64 B g1 -> g2" bench_udp "$s.guest-guest.udp64" g1 g2 10.99.0.12
}
