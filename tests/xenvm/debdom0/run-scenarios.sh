#!/bin/bash
# SPDX-License-Identifier: MIT
# The Debian dom0's counterpart of dom0-init.sh's scenario loop, run by
# ipnb-scenarios.service once the boot is done. Brings up the harness's
# links, says @@IPNB-DOM0-UP, runs the scenarios named by ipnb.scenario=
# (joined by '+', one bash each, in order) with the same markers as the
# busybox dom0, and powers off. Its output is the console (the unit's
# TTYPath), which the host harness reads.
set -u

uptime() { cut -d' ' -f1 /proc/uptime; }
scenario=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^ipnb\.scenario=//p' | tail -n1)

end() {
	echo "@@IPNB-END rc=$1"
	sync
	# The disk is a snapshot thrown away with the run: no orderly shutdown.
	systemctl poweroff --force --force
}
die() {
	echo "@@IPNB-RESULT ${scenario:-?} FAIL dom0: $*"
	end 1
}

# The scenarios start on a booted system: every unit of the boot
# transaction has started or failed (a failure is the scenario's to report).
timeout 90 systemctl is-system-running --wait >/dev/null
echo "ipnb: boot finished at $(uptime) s: $(systemctl is-system-running)"

# The management link to the host harness (udev named it by MAC, see
# mkdebroot.sh) and the uplink. Not through a network manager: they are the
# harness's, not part of what is tested.
ip link set lo up
ip link set mgmt up && ip addr add 10.0.2.15/24 dev mgmt || die "mgmt link"
[ "$(cat /sys/class/net/eth0/address 2>/dev/null)" = 52:54:00:99:00:02 ] || die "eth0 is not the uplink"
ip link set eth0 up || die "uplink eth0"

echo "@@IPNB-DOM0-UP $(uptime)"
rc=0
for s in ${scenario//+/ }; do
	echo "@@IPNB-START $s $(uptime)"
	if [ -f "/ipnb/scenarios/$s.sh" ]; then
		(cd /ipnb && IPNB_SCENARIO=$s bash "/ipnb/scenarios/$s.sh")
		r=$?
	else
		echo "@@IPNB-RESULT $s FAIL no such scenario"
		r=2
	fi
	echo "@@IPNB-DONE $s $(uptime)"
	[ "$rc" = 0 ] && rc=$r
done
end "$rc"
