# SPDX-License-Identifier: MIT
# Baseline: a correctness check of the harness itself on what Xen users run
# today. dom0 runs the kernel's xen-netback with a Linux bridge (vif-bridge)
# that also carries dom0's emulated NIC. Two domUs ping each other, the
# external host and dom0 over both families, and small TCP transfers have
# their checksums compared. Throughput on this set-up is measured by
# `make bench-xen` (scenario bench-kernel), not here.
. /ipnb/lib.sh
. /ipnb/kernel-netback.sh

kernel_netback_start || fatal "kernel netback and bridge"
# One guest at a time: vif-bridge runs under a 40 s hotplug timeout in
# libxl, and guests booting at once under TCG were seen to starve it.
kernel_guest g1 11 && vm_wait g1 || fatal "g1 did not boot"
kernel_guest g2 12 && vm_wait g2 || fatal "g2 did not boot"

check "g1 pings g2 (IPv4)" vm_exec g1 "ping -c 2 -W 2 10.99.0.12"
check "g2 pings g1 (IPv6)" vm_exec g2 "ping -c 2 -W 2 fd00::11"
check "external host pings g1" ext "ping -c 2 -W 2 10.99.0.11"
check "external host pings g2 (IPv6)" ext "ping -c 2 -W 2 fd00::12"
check "external host pings dom0" ext "ping -c 2 -W 2 10.99.0.2"
check "dom0 pings g1" ping -c 2 -W 2 10.99.0.11
check "g1 pings dom0 (IPv6)" vm_exec g1 "ping -c 2 -W 2 fd00::2"
check "TCP g1 -> g2: 2 MiB arrive intact" tcp_transfer g1 g2 10.99.0.12 2
check "TCP external -> g1: 1 MiB arrive intact" tcp_transfer ext g1 10.99.0.11 1
check "TCP g1 -> dom0: 1 MiB arrive intact" tcp_transfer g1 dom0 10.99.0.2 1
finish
