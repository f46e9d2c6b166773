# ipnetbackd switching between guests (issue 3, scenario 1): the kernel's
# xen-netback is not loaded; ipnetbackd serves every vif. Three domUs with an
# IPv4 and an IPv6 address each, registered through vif=['ip=...']. Every
# pair pings over both families, and a TCP transfer between two of them
# arrives intact.
. /ipnb/lib.sh

grep -q xen_netback /proc/modules && fatal "xen-netback is loaded"
ipnetbackd -d >/tmp/ipnetbackd.log 2>&1 &
IPNB_DAEMON_LOG=/tmp/ipnetbackd.log
for _ in $(seq 1 50); do [ -S /run/ipnetback/ipnetbackd.sock ] && break; sleep 0.1; done
[ -S /run/ipnetback/ipnetbackd.sock ] || fatal "ipnetbackd did not start"

guest() { # NAME LAST-OCTET
	vm_start "$1" pv-guest.cfg \
		"vif=['mac=00:16:3e:00:00:$2,ip=10.99.0.$2 fd00::$2,script=vif-ipnetback']" \
		"extra=\"ipnb.name=$1 ipnb.ip4=10.99.0.$2/24 ipnb.ip6=fd00::$2/64\""
}
for g in 11 12 13; do guest "g${g#1}" "$g" || fatal "create g${g#1}"; done
vm_wait g1 g2 g3 || fatal "guests did not boot"

for a in 1 2 3; do
	for b in 1 2 3; do
		[ $a = $b ] && continue
		check "g$a pings g$b (IPv4)" vm_exec "g$a" "ping -c 2 -W 2 10.99.0.1$b"
		check "g$a pings g$b (IPv6)" vm_exec "g$a" "ping -c 2 -W 2 fd00::1$b"
	done
done
check "TCP g1 -> g2: 8 MiB arrive intact" tcp_transfer g1 g2 10.99.0.12 8
check "TCP g2 -> g3 over IPv6: 4 MiB arrive intact" tcp_transfer g2 g3 fd00::13 4
check "TCP g1 -> g2 throughput" tcp_throughput ipnetback.g1-g2.tcp g1 g2 10.99.0.12
finish
