# SPDX-License-Identifier: MIT
# ipnetbackd switching between guests (issue 3, scenarios 1-4). The kernel's
# xen-netback is not loaded; ipnetbackd serves every vif. Three domUs with an
# IPv4 and an IPv6 address each, registered through vif=['ip=...'].
. /ipnb/lib.sh

ipnb_start || fatal "ipnetbackd did not start"
for g in 11 12 13; do ipnb_guest "g${g#1}" "$g" || fatal "create g${g#1}"; done
vm_wait g1 g2 g3 || fatal "guests did not boot"

# What the toolstack shows of a vif ipnetbackd serves: xl network-list reads
# the frontend's keys, state 4 (Connected) and the ring refs. (Its evt-ch
# is -1: netfront took split event channels, event-channel-tx and -rx,
# which xl does not show; so it is with Linux netback.)
xl network-list g1
check "xl network-list shows g1's vif Connected, with its rings" sh -c \
	"xl network-list g1 | awk 'NR == 2 && \$5 == 4 && \$7 ~ /^[0-9]+\\/[0-9]+\$/ { ok = 1 } END { exit !ok }'"

# 1. Every pair over both families, and TCP with checksums compared.
for a in 1 2 3; do
	for b in 1 2 3; do
		[ $a = $b ] && continue
		check "g$a pings g$b (IPv4)" vm_exec "g$a" "ping -c 1 -W 3 10.99.0.1$b"
		check "g$a pings g$b (IPv6)" vm_exec "g$a" "ping -c 1 -W 3 fd00::1$b"
	done
done

# 4. g3 must see none of the g1 <-> g2 traffic: neither ipnetbackd nor g3's
# own kernel may count a received packet during the second g1 -> g2
# transfer.
g3_rx0=$(vif_counter g3 rx_packets)
g3_k0=$(vm_exec g3 "cat /sys/class/net/eth0/statistics/rx_packets" | awk '{ print $2 }')
check "TCP g1 -> g2: 4 MiB arrive intact" tcp_transfer g1 g2 10.99.0.12 4
check "TCP g2 -> g3 over IPv6: 4 MiB arrive intact" tcp_transfer g2 g3 fd00::13 4
g3_rx1=$(vif_counter g3 rx_packets)
g3_k1=$(vm_exec g3 "cat /sys/class/net/eth0/statistics/rx_packets" | awk '{ print $2 }')
check "TCP g1 -> g2 again: 2 MiB arrive intact" tcp_transfer g1 g2 10.99.0.12 2
g3_rx2=$(vif_counter g3 rx_packets)
# The transfers went as GSO packets (netfront's TSO, feature-gso-tcpv4/6):
# taken from the sender whole and handed to the receiver whole.
log "GSO: g1 tx_gso_packets $(vif_counter g1 tx_gso_packets), g2 rx_gso_packets $(vif_counter g2 rx_gso_packets), g3 rx_gso_packets $(vif_counter g3 rx_gso_packets), g2 gso_segments $(vif_counter g2 gso_segments)"
check "GSO: g1 sent GSO packets" test "$(vif_counter g1 tx_gso_packets)" -gt 0
check "GSO: g2 received GSO packets whole" test "$(vif_counter g2 rx_gso_packets)" -gt 0
check "GSO: g3 received GSO packets whole (IPv6)" test "$(vif_counter g3 rx_gso_packets)" -gt 0
check "GSO: none cut in software between guests" test "$(vif_counter g1 gso_segments)" = 0
g3_k2=$(vm_exec g3 "cat /sys/class/net/eth0/statistics/rx_packets" | awk '{ print $2 }')
log "g3 rx_packets: ipnetbackd $g3_rx0 -> $g3_rx1 -> $g3_rx2, kernel $g3_k0 -> $g3_k1 -> $g3_k2"
check "g3 received the g2 -> g3 transfer" test "$g3_rx1" -gt "$g3_rx0"
check "g3 received nothing of the second g1 -> g2 transfer (ipnetbackd count)" test "$g3_rx2" = "$g3_rx1"
check "g3 received nothing of the second g1 -> g2 transfer (g3's kernel count)" test "$g3_k2" = "$g3_k1"

# 2. An address added with the CLI becomes reachable; removed, it does not.
# ipnetbackd applies xenstore writes asynchronously: each check first waits
# (10 s at most) until the daemon's own view of the vif shows the change.
vm_exec g1 "ip addr add 10.99.0.21/24 dev eth0 && ip -6 addr add fd00::21/64 dev eth0" ||
	fatal "adding the address inside g1"
registered() { ipnetback vif show "$(domid g1)/0" --json | grep -q "\"$1\""; }
unregistered() { ! registered "$1"; }
check_fails "10.99.0.21 unreachable before registration" vm_exec g2 "ping -c 1 -W 1 10.99.0.21"
check "ipnetback ip add 10.99.0.21 fd00::21 to g1" ipnetback ip add "$(domid g1)" 10.99.0.21 fd00::21
check "ipnetbackd registers 10.99.0.21" within 10 registered 10.99.0.21
check "ipnetbackd registers fd00::21" within 10 registered fd00::21
check "10.99.0.21 reachable once registered" within 10 vm_exec g2 "ping -c 1 -W 1 10.99.0.21"
check "fd00::21 reachable once registered" within 10 vm_exec g2 "ping -c 1 -W 1 fd00::21"
check "ipnetback ip list shows it" sh -c "ipnetback ip list $(domid g1) | grep -q '10.99.0.21'"
check_fails "ipnetback refuses g1's address for g2" ipnetback ip add "$(domid g2)" 10.99.0.11
# A conflict the toolstack writes (as a second vif line with g1's address
# would): the daemon refuses it, and `ip list` shows it refused, with the
# daemon's ip-error, while g2's own addresses stay registered.
g2ip=/local/domain/0/backend/vif/$(domid g2)/0/ip
listed_refused() {
	ipnetback ip list g2 | grep -q "$(printf '\t')10.99.0.12 fd00::12$(printf '\t')refused: 10.99.0.11$(printf '\t')refused, already registered"
}
xenstore-write "$g2ip" "10.99.0.12 fd00::12 10.99.0.11"
check "ipnetback ip list shows g1's address refused for g2" within 10 listed_refused
check "... and as JSON" sh -c "ipnetback ip list g2 --json | tr -d ' \n' | grep -q '\"refused\":\[\"10.99.0.11\"\]'"
xenstore-write "$g2ip" "10.99.0.12 fd00::12"
check_fails "ipnetback refuses a bad address" ipnetback ip add "$(domid g2)" 10.99.0.300
check_fails "ipnetback refuses a multicast address" ipnetback ip add "$(domid g2)" 224.0.0.5
check "ipnetback ip del 10.99.0.21 from g1" ipnetback ip del "$(domid g1)" 10.99.0.21
check "ipnetbackd forgets 10.99.0.21" within 10 unregistered 10.99.0.21
check_fails "10.99.0.21 unreachable after removal" vm_exec g2 "ping -c 2 -W 1 10.99.0.21"
check "fd00::21 still reachable" vm_exec g2 "ping -c 1 -W 2 fd00::21"

# 3. Spoofing: an unregistered source address, then a forged source MAC.
# The counters are read through the control socket after the pings: they
# must rise within 5 s.
rose() { within 5 ctl_above "$3" "$2" vif show "$(domid "$1")/0"; } # NAME FIELD BEFORE
s0=$(vif_counter g1 spoofed_ip)
check_fails "g1 from an unregistered source reaches nobody" \
	vm_exec g1 "ip addr add 10.99.0.99/24 dev eth0 && ping -c 2 -W 1 -I 10.99.0.99 10.99.0.12"
check "spoofed_ip counter rose (from $s0)" rose g1 spoofed_ip "$s0"
m0=$(vif_counter g1 spoofed_mac)
check_fails "g1 with a forged MAC reaches nobody" \
	vm_exec g1 "ip link set eth0 down && ip link set eth0 address 00:16:3e:00:00:99 &&
		ip link set eth0 up && ping -c 2 -W 1 10.99.0.13"
check "spoofed_mac counter rose (from $m0)" rose g1 spoofed_mac "$m0"
vm_exec g1 "ip link set eth0 down && ip link set eth0 address 00:16:3e:00:00:11 && ip link set eth0 up"
check "g1 works again with its own MAC" within 15 vm_exec g1 "ping -c 1 -W 2 10.99.0.13"

# One daemon per host: a second one refuses to start, saying why, and
# touches neither the control socket nor ipnb0. SIGHUP is logged, not fatal.
out=$(timeout 20 ipnetbackd -d 2>&1)
rc=$?
echo "$out" | sed 's/^/  [second ipnetbackd] /'
check "a second ipnetbackd refuses to start (exit $rc)" test "$rc" = 1
check "... and says another one is running" grep -q 'another ipnetbackd is running' <<<"$out"
dpid() { ipnetback daemon --json | grep -o '"pid": [0-9]*' | awk '{ print $2 }'; }
check "the first daemon still answers on the control socket" test "$(dpid)" = "$IPNB_DAEMON_PID"
# --help and --version answer on stdout, exit 0 and touch nothing, even
# with a daemon running.
check "ipnetbackd --help prints its options and exits 0" sh -c \
	"ipnetbackd --help 2>/dev/null | grep -q -e '--uplink=IFACE'"
check "ipnetbackd --version and ipnetback --version agree" sh -c \
	"[ \"\$(ipnetbackd --version | cut -d' ' -f2)\" = \"\$(ipnetback --version | cut -d' ' -f2)\" ]"
check "ipnetback ip add takes a domain's xl name" sh -c \
	"ipnetback ip add g1 10.99.0.41 >/dev/null && ipnetback ip list g1 | grep -q 10.99.0.41 && ipnetback ip del g1/0 10.99.0.41 >/dev/null"
check "ipnb0 still routes g1's address" sh -c "ip route show 10.99.0.11 | grep -q 'dev ipnb0'"
# (The log is shared with earlier scenarios of the same boot: count.)
hups() { grep -c 'SIGHUP' "$IPNB_DAEMON_LOG"; }
h0=$(hups)
kill -HUP "$IPNB_DAEMON_PID"
check "SIGHUP is logged" within 5 test "$(hups)" -gt "$h0"
check "ipnetbackd still runs and answers after SIGHUP" test "$(dpid)" = "$IPNB_DAEMON_PID"
check "g1 still reaches g2 after SIGHUP" vm_exec g1 "ping -c 1 -W 3 10.99.0.12"

# Threat 29: link-local destinations never leave the host. The daemon
# answers ARP and NS only for registered addresses, so g1 is given static
# neighbour entries (the backend's MAC, learnt for 10.99.0.12) to send
# datagrams at all. ipnetbackd drops 169.254.1.1 as link_local, and neither
# dom0 (host port) nor anybody else gets it. To fe80::99 g1's kernel uses
# its own link-local source, which is registered to nobody: spoofed_ip.
l0=$(vif_counter g1 link_local)
sp0=$(vif_counter g1 spoofed_ip)
check_fails "g1 reaches nobody at 169.254.1.1" vm_exec g1 \
	"m=\$(/sbin/ip neigh show 10.99.0.12 | awk '{ print \$5 }'); [ -n \"\$m\" ] &&
	/sbin/ip route add 169.254.0.0/16 dev eth0 && /sbin/ip neigh replace 169.254.1.1 lladdr \$m dev eth0 &&
	/sbin/ip -6 neigh replace fe80::99 lladdr \$m dev eth0 && ping -c 2 -W 1 169.254.1.1"
check "link_local counter rose by 2 (from $l0)" rose g1 link_local $((l0 + 1))
check_fails "g1 reaches nobody at fe80::99" vm_exec g1 "ping -c 2 -W 1 -I eth0 fe80::99"
check "spoofed_ip counter rose by 2 (from $sp0)" rose g1 spoofed_ip $((sp0 + 1))

ipnetback vif list
finish
