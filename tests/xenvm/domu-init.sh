#!/bin/sh
# SPDX-License-Identifier: MIT
# /init of the test domUs (busybox). Brings up the kernel's xen-netfront with
# the addresses given on the kernel command line (xl `extra=`), unless
# ipnb.role=hostile leaves the vif to tests/hostile/hostile-fe, then runs the
# test agent, which runs the commands dom0 writes into this domain's
# xenstore home (tests/xenvm/agent.c has the protocol; tests/xenvm/lib.sh,
# vm_exec, is the other end).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

# The ipnb.* words of the kernel command line, with builtins only: every
# process a PV guest starts costs about 0.1 s under TCG, and a pipe per key
# cost this boot over a second.
read -r cmdline </proc/cmdline
for w in $cmdline; do
	case "$w" in
	ipnb.role=*) role=${w#*=} ;;
	ipnb.name=*) name=${w#*=} ;;
	ipnb.ip4=*) ip4=${w#*=} ;;
	ipnb.ip6=*) ip6=${w#*=} ;;
	ipnb.gw4=*) gw4=${w#*=} ;;
	esac
done
# ipnb.role=hostile: the vif belongs to tests/hostile/hostile-fe (run through
# the agent), so the kernel's netfront must not claim it. ipnb.role=bare: a
# guest with no vif at all (the harness's self-test of the agent).

while read -r m; do
	case "$role:$m" in
	hostile:*/xen-netfront.ko) continue ;;
	esac
	insmod "$m"
done </etc/modules.order

# Receiving end of the integrity transfers: nc -l -p PORT -e ipnb-recv FILE.
printf '#!/bin/sh\nexec cat >"$1"\n' >/usr/bin/ipnb-recv
chmod 0755 /usr/bin/ipnb-recv

hostname "${name:-domu}"

# Debian's busybox runs its own applets before searching PATH, so iproute2
# (needed for nodad) is called by its full path.
ip() { /sbin/ip "$@"; }
ip link set lo up
if [ "$role" = hostile ] || [ "$role" = bare ]; then
	echo "ipnb-domu: $name up: $role, no netfront"
else
	i=0
	while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	ip link set eth0 up
	# nodad: the tests want addresses usable at once; DAD is covered separately.
	[ -n "$ip4" ] && ip addr add "$ip4" dev eth0
	[ -n "$ip6" ] && ip -6 addr add "$ip6" dev eth0 nodad
	[ -n "$gw4" ] && ip route add default via "$gw4"
	echo "ipnb-domu: $name up: eth0 $ip4 $ip6 mac $(cat /sys/class/net/eth0/address)"
fi

xenstore-write data/ipnb-ready 1
# The agent (tests/xenvm/agent.c) answers until the domain ends; should it
# lose xenstored, it starts again, and never runs a command twice.
while :; do
	ipnb-agent serve
	sleep 1
done
