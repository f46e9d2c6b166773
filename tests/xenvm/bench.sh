# SPDX-License-Identifier: MIT
# The paths `make bench-xen` measures, the same for every set-up (sourced
# after lib.sh by bench-kernel.sh and bench-ipnb.sh). Guests g1 (10.99.0.11)
# and g2 (10.99.0.12) are up; dom0 is 10.99.0.2, the external host
# 10.99.0.1. Metrics are named SETUP.PATH.tcp; bench-table.sh pairs them.
bench_paths() {
	local s=$1
	check "TCP g1 -> g2 throughput" tcp_throughput "$s.guest-guest.tcp" g1 g2 10.99.0.12
	check "TCP external -> g1 throughput" tcp_throughput "$s.ext-guest.tcp" ext g1 10.99.0.11
	check "TCP g1 -> external throughput" tcp_throughput "$s.guest-ext.tcp" g1 ext 10.99.0.1
	check "TCP dom0 -> g1 throughput" tcp_throughput "$s.dom0-guest.tcp" dom0 g1 10.99.0.11
	check "TCP g1 -> dom0 throughput" tcp_throughput "$s.guest-dom0.tcp" g1 dom0 10.99.0.2
}
