# SPDX-License-Identifier: MIT
# Benchmark, not a test (`make bench-xen`): TCP throughput on every path
# through ipnetbackd (the plain build), with dom0's eth0 as its uplink and
# the host port for dom0. See bench-kernel.sh for the other half.
. /ipnb/lib.sh
. /ipnb/bench.sh

ipnb_uplink_start || fatal "uplink or ipnetbackd set-up failed"
ipnb_guest g1 11 && vm_wait g1 || fatal "g1 did not boot"
ipnb_guest g2 12 && vm_wait g2 || fatal "g2 did not boot"
bench_paths ipnb
ipnetback vif list
finish
