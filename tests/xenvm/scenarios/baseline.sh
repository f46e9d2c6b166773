# Baseline: what Xen users run today, kept as the reference for side-by-side
# comparisons. dom0 runs the kernel's xen-netback with a Linux bridge
# (vif-bridge) that also carries dom0's emulated NIC. Four domUs boot at
# once; the domUs ping each other, the external host pings them, and TCP
# transfers (domU -> domU, external host -> domU) are checked for integrity
# and measured, and so is TCP between a domU and dom0 itself.
. /ipnb/lib.sh

for m in llc stp bridge xen-netback; do insmod "/lib/modules/$m.ko" || fatal "insmod $m"; done
ip link add xenbr0 type bridge stp_state 0 forward_delay 0
ip link set eth0 master xenbr0
ip link set xenbr0 up
ip addr add 10.99.0.2/24 dev xenbr0
ip -6 addr add fd00::2/64 dev xenbr0 nodad

guest() { # NAME LAST-OCTET
	vm_start "$1" pv-guest.cfg \
		"vif=['mac=00:16:3e:00:00:$2,bridge=xenbr0']" \
		"extra=\"ipnb.name=$1 ipnb.ip4=10.99.0.$2/24 ipnb.ip6=fd00::$2/64\""
}
for g in 11 12 13 14; do guest "g${g#1}" "$g" || fatal "create g${g#1}"; done
vm_wait g1 g2 g3 g4 || fatal "guests did not boot"

check "g1 pings g2 (IPv4)" vm_exec g1 "ping -c 3 -W 2 10.99.0.12"
check "g2 pings g1 (IPv4)" vm_exec g2 "ping -c 3 -W 2 10.99.0.11"
check "g1 pings g2 (IPv6)" vm_exec g1 "ping -c 3 -W 2 fd00::12"
check "g3 pings g4 (IPv4)" vm_exec g3 "ping -c 3 -W 2 10.99.0.14"
check "g4 pings g3 (IPv6)" vm_exec g4 "ping -c 3 -W 2 fd00::13"
check "external host pings g1" ext "ping -c 3 -W 2 10.99.0.11"
check "external host pings g2" ext "ping -c 3 -W 2 10.99.0.12"
check "external host pings g2 (IPv6)" ext "ping -c 3 -W 2 fd00::12"
check "external host pings dom0" ext "ping -c 2 -W 2 10.99.0.2"
check "TCP g1 -> g2: 8 MiB arrive intact" tcp_transfer g1 g2 10.99.0.12 8
check "TCP g1 -> g2 throughput" tcp_throughput baseline.g1-g2.tcp g1 g2 10.99.0.12
check "TCP external -> g1 throughput" tcp_throughput baseline.ext-g1.tcp ext g1 10.99.0.11
check "TCP g1 -> external throughput" tcp_throughput baseline.g1-ext.tcp g1 ext 10.99.0.1
check "dom0 pings g1" ping -c 2 -W 2 10.99.0.11
check "g1 pings dom0" vm_exec g1 "ping -c 2 -W 2 10.99.0.2"
check "TCP dom0 -> g1 throughput" tcp_throughput baseline.dom0-g1.tcp dom0 g1 10.99.0.11
check "TCP g1 -> dom0 throughput" tcp_throughput baseline.g1-dom0.tcp g1 dom0 10.99.0.2
finish
