#!/bin/sh
# SPDX-License-Identifier: MIT
# /init of the test dom0 (busybox sh). Starts what a Xen dom0 needs
# (xenfs, xenstored, xen-init-dom0, xenconsoled), configures the management
# link to the host, runs the scenarios named by ipnb.scenario= under bash and
# powers the machine off. Everything the host harness reads comes back over
# the serial console as @@IPNB- markers.
export PATH=/usr/lib/xen-4.17/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts # xenconsoled allocates a pty per guest
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /run/xen /run/xenstored /var/lib/xen/dump /var/log/xen/console

arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^ipnb\.$1=//p" | tail -n1; }
scenario=$(arg scenario)

die() {
	echo "@@IPNB-RESULT ${scenario:-?} FAIL dom0-init: $*"
	echo "@@IPNB-END rc=1"
	poweroff -f
}

# Modules for a backend-less dom0. The kernel netback and the bridge stay
# unloaded: scenarios that want them load them explicitly.
while read -r m; do
	case "$m" in
	*/xen-netback.ko | */bridge.ko | */stp.ko | */llc.ko) ;;
	*) insmod "$m" || die "insmod $m" ;;
	esac
done </etc/modules.order
mount -t xenfs xenfs /proc/xen || die "mount xenfs"

xenstored --pid-file=/run/xenstored.pid || die "xenstored"
xen-init-dom0 >/tmp/xen-init-dom0.log 2>&1 || die "xen-init-dom0"
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest \
	--log-dir=/var/log/xen/console || die "xenconsoled"

# NICs by MAC (run.sh assigns them): the emulated "physical" uplink is eth0,
# the management link to the host harness is mgmt.
for n in /sys/class/net/*; do
	case "$(cat "$n/address")" in
	52:54:00:00:ff:01) ip link set "${n##*/}" name mgmt ;;
	esac
done
ip link set lo up
ip link set mgmt up && ip addr add 10.0.2.15/24 dev mgmt || die "mgmt link"
ip link set eth0 up || die "uplink eth0 missing"

echo "@@IPNB-DOM0-UP $(cut -d' ' -f1 /proc/uptime)"
# ipnb.scenario= may name several scenarios joined by '+': they run one
# after another in this one boot, each in its own bash, and share what the
# earlier ones left running (guests, the host port; see lib.sh). Each says
# its own @@IPNB-RESULT; the run's rc is the first failure's.
rc=0
for s in $(echo "$scenario" | tr '+' ' '); do
	echo "@@IPNB-START $s $(cut -d' ' -f1 /proc/uptime)"
	if [ -f "/ipnb/scenarios/$s.sh" ]; then
		(cd /ipnb && IPNB_SCENARIO=$s bash "/ipnb/scenarios/$s.sh")
		r=$?
	else
		echo "@@IPNB-RESULT $s FAIL no such scenario"
		r=2
	fi
	echo "@@IPNB-DONE $s $(cut -d' ' -f1 /proc/uptime)"
	[ "$rc" = 0 ] && rc=$r
done
echo "@@IPNB-END rc=$rc"
sync
poweroff -f
