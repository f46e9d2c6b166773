# The physical-NIC path (issue 4): guests and hosts on the LAN reach each
# other through ipnetbackd alone. dom0's emulated NIC eth0 is the uplink;
# the external host owns the TAP behind it (10.99.0.1, fd00::1). dom0 keeps
# its own addresses on eth0 (10.99.0.2, fd00::2).
. /ipnb/lib.sh

# The uplink and the gateways come from the config file this time; the
# external host doubles as the router to 10.98.0.0/24 and fd98::/64, which
# are off-link for dom0.
mkdir -p /etc/ipnetback
printf '# test config\nuplink = eth0\ngateway 10.99.0.1\ngateway fd00::1\n' \
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

# 2. TCP both ways, checked end to end, and throughput.
check "TCP external -> g1: 4 MiB arrive intact" tcp_transfer ext g1 10.99.0.11 4
check "TCP g1 -> external: 4 MiB arrive intact" tcp_transfer g1 ext 10.99.0.1 4
check "TCP external -> g1 throughput" tcp_throughput ipnetback.ext-g1.tcp ext g1 10.99.0.11
check "TCP g1 -> external throughput" tcp_throughput ipnetback.g1-ext.tcp g1 ext 10.99.0.1
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
check "TCP dom0 -> g1: 4 MiB arrive intact" tcp_transfer dom0 g1 10.99.0.11 4
check "TCP g1 -> dom0: 4 MiB arrive intact" tcp_transfer g1 dom0 10.99.0.2 4
check "TCP dom0 -> g1 throughput" tcp_throughput ipnetback.dom0-g1.tcp dom0 g1 10.99.0.11
check "TCP g1 -> dom0 throughput" tcp_throughput ipnetback.g1-dom0.tcp g1 dom0 10.99.0.2
host_counter() { ipnetback host --json | grep -o "\"$1\": [0-9]*" | awk '{ print $2 }'; }
check "host port: nothing but dom0's own traffic crossed it (not_local 0)" \
	test "$(host_counter not_local)" = 0

# Frames larger than the uplink's MTU are dropped and counted, not sent.
ul_counter() { ipnetback uplink --json | grep -o "\"$1\": [0-9]*" | awk '{ print $2 }'; }
b0=$(ul_counter too_big)
check_fails "a 2.5 kB frame from g1 (guest MTU 3000) does not leave" \
	vm_exec g1 "ip link set eth0 mtu 3000 && ping -c 2 -W 2 -s 2500 10.99.0.1"
vm_exec g1 "ip link set eth0 mtu 1500"
b1=$(ul_counter too_big)
check "uplink too_big counter rose ($b0 -> $b1)" test "$b1" -gt "$b0"
check "g1 reaches the external host again at MTU 1500" vm_exec g1 "ping -c 1 -W 3 10.99.0.1"

# 4. A removed address is no longer answered on the LAN; an address nobody
# registered never is.
check "ipnetback ip del 10.99.0.13 from g3" ipnetback ip del "$(domid g3)" 10.99.0.13
check "dom0 no longer routes the removed 10.99.0.13 to ipnb0" within 3 sh -c \
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
check "the re-added address is announced and reachable" ext "ping -c 1 -W 3 10.99.0.13"
check "dom0 reaches the re-added 10.99.0.13" within 5 ping -c 1 -W 1 10.99.0.13

# 5. g2 stops reading; the external host floods it. The others still reach
# the external host and the daemon's memory stays flat.
pid=$IPNB_DAEMON_PID
rss() { awk '/^VmRSS/ { print $2 }' /proc/$pid/status; }
vm_exec g2 "ip link set eth0 down"
ext "ping -f -w 5 10.99.0.12 >/dev/null 2>&1; true"
r0=$(rss)
ext "ping -f -w 10 10.99.0.12 >/dev/null 2>&1 & sleep 1; true"
check "g1 reaches the external host during the flood" vm_exec g1 "ping -c 2 -W 3 10.99.0.1"
check "g3 reaches the external host during the flood (IPv6)" vm_exec g3 "ping -c 2 -W 3 fd00::1"
sleep 10
r1=$(rss)
log "ipnetbackd RSS during the flood: $r0 kB -> $r1 kB"
check "daemon RSS flat under the flood ($r0 -> $r1 kB)" test "$r1" -le $((r0 + 256))
vm_exec g2 "ip link set eth0 up"
check "g2 reachable again once it reads" vm_exec g2 "ping -c 2 -W 3 10.99.0.1"
check "dom0's own address reachable from the external host (end)" dom0_ok

ipnetback uplink
ipnetback host
ip route show dev ipnb0
ip -6 route show dev ipnb0
ipnetback vif list
finish
