# SPDX-License-Identifier: MIT
# Benchmark, not a test (`make bench-xen`): TCP throughput on every path
# through the kernel's xen-netback and a Linux bridge, the anchor users
# would otherwise pick. bench-ipnb measures the same paths through
# ipnetbackd in the same `make bench-xen` run; bench-table.sh prints both
# side by side. Each measurement is a check only in that it must produce a
# figure; no figure is compared with anything here.
. /ipnb/lib.sh
. /ipnb/kernel-netback.sh
. /ipnb/bench.sh

kernel_netback_start || fatal "kernel netback and bridge"
kernel_guest g1 11 && vm_wait g1 || fatal "g1 did not boot"
kernel_guest g2 12 && vm_wait g2 || fatal "g2 did not boot"
bench_paths kernel
finish
