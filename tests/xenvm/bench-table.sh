#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench-xen`: prints the TCP throughput each bench scenario measured
# (build/runs/<scenario>/serial.txt, metrics SETUP.PATH.tcp), one row per
# path, with ipnetbackd's figure as a ratio of the kernel netback's from the
# same run. Reports only; asserts nothing.
top=$(cd "$(dirname "$0")/../.." && pwd)
for s in "$@"; do
	f=$top/build/runs/$s/serial.txt
	[ -f "$f" ] && grep -a '^@@IPNB-METRIC [a-z]*\.[a-z0-9-]*\.tcp ' "$f"
done | awk '
	{ split($2, k, "."); v[k[1], k[2]] = $3; if (!(k[2] in seen)) { seen[k[2]] = 1; order[n++] = k[2] } }
	END {
		printf "%-14s %14s %14s %7s\n", "path (TCP)", "kernel Mbit/s", "ipnb Mbit/s", "ratio"
		for (i = 0; i < n; i++) {
			p = order[i]; a = v["kernel", p]; b = v["ipnb", p]
			r = (a > 0 && b != "") ? sprintf("%.2f", b / a) : "-"
			printf "%-14s %14s %14s %7s\n", p, a == "" ? "-" : a, b == "" ? "-" : b, r
		}
	}'
