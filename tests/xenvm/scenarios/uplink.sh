# SPDX-License-Identifier: MIT
# The physical-NIC path (issue 4): guests and hosts on the LAN reach each
# other through ipnetbackd alone. dom0's emulated NIC eth0 is the uplink;
# the external host owns the TAP behind it (10.99.0.1, fd00::1). dom0 keeps
# its own addresses on eth0 (10.99.0.2, fd00::2).
. /ipnb/lib.sh

# The uplink, the gateways and the metrics listener come from the config
# file this time; the external host doubles as the router to 10.98.0.0/24
# and fd98::/64, which are off-link for dom0, and as the Prometheus server
# that scrapes dom0.
mkdir -p /etc/ipnetback
printf '# test config\nuplink = eth0\ngateway 10.99.0.1\ngateway fd00::1\nmetrics-listen = 10.99.0.2:9464\n' \
	>/etc/ipnetback/ipnetbackd.conf
ext "ip addr add 10.98.0.1/24 dev tap0 && ip -6 addr add fd98::1/64 dev tap0 nodad" ||
	fatal "external host's off-link addresses"
ipnb_uplink_start -c /etc/ipnetback/ipnetbackd.conf || fatal "uplink or ipnetbackd set-up failed"
for g in 11 12 13; do ipnb_guest "g${g#1}" "$g" || fatal "create g${g#1}"; done
vm_wait g1 g2 g3 || fatal "guests did not boot"

dom0_ok() { ext "ping -c 1 -W 2 10.99.0.2"; }
check "dom0's own address reachable from the external host (start)" dom0_ok

# 1. Both directions, both families, every guest.
for g in 1 2 3; do
	check "external host pings g$g (IPv4)" ext "ping -c 1 -W 3 10.99.0.1$g"
	check "external host pings g$g (IPv6)" ext "ping -c 1 -W 3 fd00::1$g"
	check "g$g pings the external host (IPv4)" vm_exec "g$g" "ping -c 1 -W 3 10.99.0.1"
	check "g$g pings the external host (IPv6)" vm_exec "g$g" "ping -c 1 -W 3 fd00::1"
done

# Off-link destinations go through the configured gateway.
check "g2 reaches 10.98.0.1 through the gateway" \
	vm_exec g2 "ip route add 10.98.0.0/24 dev eth0 && ping -c 1 -W 3 10.98.0.1"
check "g2 reaches fd98::1 through the gateway" \
	vm_exec g2 "/sbin/ip -6 route add fd98::/64 dev eth0 && ping -c 1 -W 3 fd98::1"

# 2. TCP both ways, checked end to end.
check "TCP external -> g1: 2 MiB arrive intact" tcp_transfer ext g1 10.99.0.11 2
check "TCP g1 -> external: 2 MiB arrive intact" tcp_transfer g1 ext 10.99.0.1 2
check "dom0's own address reachable from the external host (after TCP)" dom0_ok

# Guests and dom0 itself reach each other through the host port (ipnb0):
# dom0 routes each guest address into it.
check "dom0 routes 10.99.0.11 and fd00::11 through ipnb0" sh -c \
	"ip route show 10.99.0.11 | grep -q 'dev ipnb0' && ip -6 route show fd00::11 | grep -q 'dev ipnb0'"
for g in 1 2 3; do
	check "dom0 pings g$g (IPv4)" ping -c 1 -W 3 10.99.0.1$g
	check "dom0 pings g$g (IPv6)" ping -c 1 -W 3 fd00::1$g
	check "g$g pings dom0 (IPv4)" vm_exec "g$g" "ping -c 1 -W 3 10.99.0.2"
	check "g$g pings dom0 (IPv6)" vm_exec "g$g" "ping -c 1 -W 3 fd00::2"
done
check "TCP dom0 -> g1: 2 MiB arrive intact" tcp_transfer dom0 g1 10.99.0.11 2
check "TCP g1 -> dom0: 2 MiB arrive intact" tcp_transfer g1 dom0 10.99.0.2 2
check "TCP dom0 -> g2 over IPv6: 2 MiB arrive intact" tcp_transfer dom0 g2 fd00::12 2
check "TCP g2 -> dom0 over IPv6: 2 MiB arrive intact" tcp_transfer g2 dom0 fd00::2 2
# Both ways as GSO packets: the TUN device's virtio-net header carries them
# (IFF_VNET_HDR, TUNSETOFFLOAD), so dom0's TSO and the guests' reach each
# other whole.
log "GSO over the host port: rx_gso_packets $(ctl_count rx_gso_packets host), tx_gso_packets $(ctl_count tx_gso_packets host); g1 rx_gso_packets $(vif_counter g1 rx_gso_packets), g2 rx_gso_packets $(vif_counter g2 rx_gso_packets)"
check "GSO: dom0 sent GSO packets into the host port" test "$(ctl_count rx_gso_packets host)" -gt 0
check "GSO: guests sent GSO packets to dom0 whole" test "$(ctl_count tx_gso_packets host)" -gt 0
check "GSO: g1 received dom0's GSO packets whole" test "$(vif_counter g1 rx_gso_packets)" -gt 0
check "GSO: g2 received dom0's GSO packets whole (IPv6)" test "$(vif_counter g2 rx_gso_packets)" -gt 0
check "host port: nothing but dom0's own traffic crossed it (not_local 0)" \
	test "$(ctl_count not_local host)" = 0

# Packets larger than the uplink's MTU (1500) from g1 (MTU 3000): the
# backend answers "fragmentation needed" / "packet too big" with the MTU,
# g1's path MTU discovery learns it, and the next pings get through in
# fragments g1 makes itself. Nothing too big reaches the uplink.
b0=$(vif_counter g1 icmp_too_big)
u0=$(ctl_count too_big uplink)
check "a 2.5 kB ping from g1 (MTU 3000) gets through after PMTUD (IPv4)" \
	vm_exec g1 "ip link set eth0 mtu 3000 && ping -c 3 -W 2 -s 2500 10.99.0.1"
check "a 2.5 kB ping from g1 (MTU 3000) gets through after PMTUD (IPv6)" \
	vm_exec g1 "ping -c 3 -W 2 -s 2500 fd00::1"
vm_exec g1 "ip link set eth0 mtu 1500"
log "PMTU: g1 icmp_too_big $(vif_counter g1 icmp_too_big) (was $b0), uplink too_big $(ctl_count too_big uplink) (was $u0)"
check "g1 got at least two ICMP errors (icmp_too_big from $b0)" \
	test "$(vif_counter g1 icmp_too_big)" -ge $((b0 + 2))
check "nothing too big reached the uplink" test "$(ctl_count too_big uplink)" = "$u0"
check "g1 reaches the external host again at MTU 1500" within 10 vm_exec g1 "ping -c 1 -W 2 10.99.0.1"

# 4. A removed address is no longer answered on the LAN; an address nobody
# registered never is.
check "ipnetback ip del 10.99.0.13 from g3" ipnetback ip del "$(domid g3)" 10.99.0.13
check "dom0 no longer routes the removed 10.99.0.13 to ipnb0" within 10 sh -c \
	"! ip route show 10.99.0.13 | grep -q ipnb0"
check_fails "dom0 cannot reach the removed 10.99.0.13" ping -c 1 -W 1 10.99.0.13
check_fails "external host cannot reach the removed 10.99.0.13" \
	ext "ip neigh flush dev tap0; ping -c 2 -W 1 10.99.0.13"
check_fails "nobody answers ARP for the removed 10.99.0.13" \
	ext "ip neigh show 10.99.0.13 | grep -q -E 'REACHABLE|STALE|DELAY'"
check_fails "external host cannot reach 10.99.0.77 (registered to nobody)" \
	ext "ping -c 2 -W 1 10.99.0.77"
check_fails "nobody answers ARP for 10.99.0.77" \
	ext "ip neigh show 10.99.0.77 | grep -q -E 'REACHABLE|STALE|DELAY'"
check_fails "nobody answers NS for fd00::77" \
	ext "ping -c 2 -W 1 fd00::77 >/dev/null; ip -6 neigh show fd00::77 | grep -q -E 'REACHABLE|STALE|DELAY'"
check "ipnetback ip add 10.99.0.13 back to g3" ipnetback ip add "$(domid g3)" 10.99.0.13
check "the re-added address is announced and reachable" within 10 ext "ping -c 1 -W 2 10.99.0.13"
check "dom0 reaches the re-added 10.99.0.13" within 5 ping -c 1 -W 1 10.99.0.13

# LAN spoofing (threat 27): the external host sends to g1 with g2's address
# as source. ipnetbackd drops it and counts spoofed_src; g1 never answers.
sp0=$(ctl_count spoofed_src uplink)
check_fails "the external host cannot reach g1 from g2's address" \
	ext "ip addr add 10.99.0.12/32 dev tap0 && ping -c 2 -W 1 -I 10.99.0.12 10.99.0.11; rc=\$?; ip addr del 10.99.0.12/32 dev tap0; exit \$rc"
check "uplink spoofed_src counter rose (from $sp0)" within 5 ctl_above "$sp0" spoofed_src uplink
check "the external host still reaches g1 from its own address" within 10 ext "ping -c 1 -W 2 10.99.0.11"

# 5. g2 stops reading; the external host floods it (an echo request every
# millisecond: ping -f would wait for replies that never come). The others still reach
# the external host, and the daemon's memory stays flat: after a 5 s warm-up
# flood, RSS is sampled 7 times over a 20 s flood against the frames the
# uplink took in for guests. Bound: 16 kB per 1000 frames. Every frame
# for g2 is queued, then dropped when the queue is full or times out, so a
# daemon that frees what it drops has a slope of 0 (RSS moves in 4 kB pages,
# and a flood brings thousands of frames); one lost allocation per frame
# (32 bytes at least in glibc) gives 32 kB per 1000 or more.
pid=$IPNB_DAEMON_PID
# Frames for guests the uplink took in: queued, or refused by a full queue.
ul_frames() { echo $(($(ctl_count rx_packets uplink) + $(ctl_count rx_guest_refused uplink))); }
vm_exec g2 "ip link set eth0 down"
ext "ping -q -i 0.001 -w 5 10.99.0.12 >/dev/null 2>&1; true"
mem=/tmp/uplink-rss
: >"$mem"
ext "(ping -q -i 0.001 -w 20 10.99.0.12 >/dev/null 2>&1 &); true"
mem_sample "$mem" "$pid" "$(ul_frames)"
check "g1 reaches the external host during the flood" vm_exec g1 "ping -c 2 -W 3 10.99.0.1"
mem_sample "$mem" "$pid" "$(ul_frames)"
check "g3 reaches the external host during the flood (IPv6)" vm_exec g3 "ping -c 2 -W 3 fd00::1"
for _ in 1 2 3 4 5; do
	mem_sample "$mem" "$pid" "$(ul_frames)"
	sleep 2
done
frames=$(mem_events "$mem")
check "the flood brought the uplink over 1000 frames ($frames)" test "$frames" -gt 1000
slope=$(mem_slope "$mem")
metric uplink.rss_slope_kb_per_1000_frames "$slope" kB
check "daemon RSS flat under the flood: $slope kB per 1000 frames (bound 16)" mem_flat "$mem" 16
vm_exec g2 "ip link set eth0 up"
check "g2 reachable again once it reads" within 15 vm_exec g2 "ping -c 2 -W 3 10.99.0.1"
check "dom0's own address reachable from the external host (end)" dom0_ok

# 6. Metrics: `ipnetback metrics`, and the same over HTTP, scraped from the
# LAN by the external host and checked there by Prometheus's promtool
# (syntax and lint). Each vif is labelled with its name and its domain's.
g1id=$(domid g1)
ipnetback metrics >/tmp/metrics.txt
check "ipnetback metrics labels g1's vif with its name and domain" \
	grep -q "^ipnetback_vif_rx_packets_total{domid=\"$g1id\",devid=\"0\",vifname=\"vif$g1id.0\",domain=\"g1\"} [1-9]" /tmp/metrics.txt
check "... and has the uplink's neighbour cache and the host port" sh -c \
	"grep -q '^ipnetback_uplink_neighbours{uplink=\"eth0\",state=\"reachable\"}' /tmp/metrics.txt &&
	grep -q '^ipnetback_host_routes{port=\"ipnb0\"} [1-9]' /tmp/metrics.txt"
check "the external host scrapes http://10.99.0.2:9464/metrics and promtool accepts it" \
	ext "t=\$(mktemp) && curl -sf --max-time 10 http://10.99.0.2:9464/metrics >\$t && grep -q '^ipnetback_vif_tx_packets_total{' \$t && \"\$IPNB_PROMTOOL\" check metrics <\$t; rc=\$?; rm -f \$t; exit \$rc"

# 7. Capture (`ipnetback capture`): g1's vif as `tcpdump -i vifD.0` shows it
# with the kernel netback, while the external host (uplink), dom0 (host
# port) and g2 (guest to guest) ping g1. Three captures of that vif run at
# once: one to a file until SIGINT; one of what g1 sent only (-Q in),
# which stops after 3 packets and is read through a pipe by tcpdump; and
# one whose reader goes away after 100 bytes. Each ends, and none is left.
captures_are() { [ "$(ctl_count captures daemon)" = "$1" ]; }
ipnetback capture g1 -w /tmp/g1.pcap icmp 2>/tmp/g1-cap.log &
cap_all=$!
(ipnetback capture g1 -Q in -c 3 -w - icmp 2>/tmp/g1-in.log | tcpdump -nn -r - >/tmp/g1-in.txt 2>/dev/null) &
cap_in=$!
(ipnetback capture "vif$g1id.0" -w - 2>/dev/null | head -c 100 >/dev/null) &
cap_short=$!
check "three captures of g1 run at once (one by its vif's name)" within 10 captures_are 3
ext "ping -c 2 -i 0.5 -W 2 10.99.0.11" >/dev/null
ping -c 2 -i 0.5 -W 2 10.99.0.11 >/dev/null
vm_exec g2 "ping -c 2 -W 2 10.99.0.11" >/dev/null
ended() { ! kill -0 "$1" 2>/dev/null; }
check "the capture whose reader went away has ended" within 10 ended "$cap_short"
check "the -c 3 capture has ended by itself" within 10 ended "$cap_in"
kill -INT "$cap_all"
check "the capture to a file ends on SIGINT with status 0" wait "$cap_all"
cat /tmp/g1-cap.log /tmp/g1-in.log
tcpdump -nn -r /tmp/g1.pcap >/tmp/g1.txt 2>/dev/null
has_icmp() { grep -q "IP $1 > $2: ICMP echo $3" "${4:-/tmp/g1.txt}"; }
check "capture: the external host's echo request and g1's reply (uplink)" \
	eval 'has_icmp 10.99.0.1 10.99.0.11 request && has_icmp 10.99.0.11 10.99.0.1 reply'
check "capture: dom0's echo request and g1's reply (host port)" \
	eval 'has_icmp 10.99.0.2 10.99.0.11 request && has_icmp 10.99.0.11 10.99.0.2 reply'
check "capture: g2's echo request and g1's reply (guest to guest)" \
	eval 'has_icmp 10.99.0.12 10.99.0.11 request && has_icmp 10.99.0.11 10.99.0.12 reply'
check "capture -Q in -c 3 | tcpdump -r -: 3 packets, all sent by g1" \
	eval '[ "$(grep -c "ICMP echo reply" /tmp/g1-in.txt)" = 3 ] && [ "$(wc -l </tmp/g1-in.txt)" = 3 ]'
check "no capture is left running" within 10 captures_are 0
check "the daemon counted the captured packets" ctl_above 0 capture_packets daemon

ipnetback uplink
ipnetback host
ip route show dev ipnb0
ip -6 route show dev ipnb0
ipnetback vif list
finish
