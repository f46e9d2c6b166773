# SPDX-License-Identifier: MIT
# The reference set-up ipnetback replaces, for the baseline and bench-kernel
# scenarios (sourced after lib.sh): the kernel's xen-netback, and a Linux
# bridge xenbr0 that carries dom0's NIC eth0 and dom0's own addresses.

kernel_netback_start() {
	local m
	for m in llc stp bridge xen-netback; do insmod "/lib/modules/$m.ko" || return 1; done
	ip link add xenbr0 type bridge stp_state 0 forward_delay 0 &&
		ip link set eth0 master xenbr0 &&
		ip link set xenbr0 up &&
		ip addr add 10.99.0.2/24 dev xenbr0 &&
		ip -6 addr add fd00::2/64 dev xenbr0 nodad
}

# kernel_guest NAME LAST-OCTET: a guest on xenbr0 with 10.99.0.N and fd00::N
# (not yet booted: vm_wait).
kernel_guest() {
	vm_start "$1" pv-guest.cfg \
		"vif=['mac=00:16:3e:00:00:$2,bridge=xenbr0']" \
		"extra=\"ipnb.name=$1 ipnb.ip4=10.99.0.$2/24 ipnb.ip6=fd00::$2/64\""
}
