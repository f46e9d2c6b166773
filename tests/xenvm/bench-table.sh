#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench-xen`'s report: reads the serial logs of its runs (each run
# one set-up, kernel or ipnb; several rounds of each), takes every
# @@IPNB-METRIC SETUP.PATH.KIND figure, and prints one row per PATH.KIND with
# each set-up's median, its spread (lowest-highest) and the number of
# runs, and the ratio ipnb / kernel of the medians (above 1 is better for
# throughput and packet rates, below 1 for round-trip times). The same goes
# to JSON_OUT. Reports only; asserts nothing.
#
#   bench-table.sh JSON_OUT SERIAL_LOG...
set -euo pipefail
out=${1:?usage: bench-table.sh JSON_OUT SERIAL_LOG...}
shift
top=$(cd "$(dirname "$0")/../.." && pwd)
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)

# One line per figure: "PATH.KIND SETUP VALUE UNIT", in the order seen.
grep -a -h '^@@IPNB-METRIC [a-z]*\.[a-z0-9-]*\.[a-z0-9]* ' "$@" |
	awk '{ split($2, k, "."); print k[2] "." k[3], k[1], $3, $4 }' |
	awk -v json="$out" -v commit="$commit" -v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		-v rounds="$#" -v cpus="$(nproc)" '
	function sort(a, n,   i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	}
	function median(a, n) { return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	function stats(key, setup,   n, i, a, vals) {
		n = cnt[key, setup]
		if (!n) { M = ""; LO = ""; HI = ""; VALS = ""; return }
		for (i = 1; i <= n; i++) a[i] = val[key, setup, i] + 0
		sort(a, n)
		M = median(a, n); LO = a[1]; HI = a[n]
		vals = ""
		for (i = 1; i <= n; i++) vals = vals (i > 1 ? ", " : "") val[key, setup, i]
		VALS = vals
	}
	function cell(n) { return n ? sprintf("%.4g [%.4g-%.4g] x%d", M, LO, HI, n) : "-" }
	{
		if (!(($1) in unit)) { order[nk++] = $1; unit[$1] = $4 }
		val[$1, $2, ++cnt[$1, $2]] = $3
	}
	END {
		printf "%-20s %-7s %-30s %-30s %7s\n", "path.kind", "unit", "kernel: median [range] xN",
			"ipnb: median [range] xN", "ratio"
		printf "{\n  \"date\": \"%s\",\n  \"commit\": \"%s\",\n  \"logs\": %d,\n  \"cpus\": %d,\n  \"rows\": [", date, commit, rounds, cpus >json
		for (i = 0; i < nk; i++) {
			k = order[i]
			stats(k, "kernel"); km = M; kc = cell(cnt[k, "kernel"])
			kj = cnt[k, "kernel"] ? sprintf("{\"median\": %s, \"min\": %s, \"max\": %s, \"values\": [%s]}", M, LO, HI, VALS) : "null"
			stats(k, "ipnb"); im = M; ic = cell(cnt[k, "ipnb"])
			ij = cnt[k, "ipnb"] ? sprintf("{\"median\": %s, \"min\": %s, \"max\": %s, \"values\": [%s]}", M, LO, HI, VALS) : "null"
			r = (km != "" && im != "" && km > 0) ? sprintf("%.2f", im / km) : "-"
			printf "%-20s %-7s %-30s %-30s %7s\n", k, unit[k], kc, ic, r
			split(k, pk, ".")
			printf "%s\n    {\"path\": \"%s\", \"kind\": \"%s\", \"unit\": \"%s\", \"kernel\": %s, \"ipnb\": %s, \"ratio\": %s}",
				i ? "," : "", pk[1], pk[2], unit[k], kj, ij, r == "-" ? "null" : r >json
		}
		printf "\n  ]\n}\n" >json
	}'
echo "(medians of each set-up's runs; ratio = ipnb / kernel: above 1 is better"
echo " for tcp and udp64, below 1 for rtt. JSON: $out)"
