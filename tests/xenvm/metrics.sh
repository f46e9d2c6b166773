#!/bin/bash
# SPDX-License-Identifier: MIT
# Prints every metric the scenario runs in build/runs reported, side by side,
# so that ipnetback's figures stand next to the kernel netback baseline's
# (e.g. baseline.ext-g1.tcp next to ipnetback.ext-g1.tcp). Reports only;
# asserts nothing.
top=$(cd "$(dirname "$0")/../.." && pwd)
printf '%-12s %-28s %12s %s\n' SCENARIO METRIC VALUE UNIT
for d in "$top"/build/runs/*/; do
	[ -f "$d/serial.txt" ] || continue
	grep -a '^@@IPNB-METRIC' "$d/serial.txt" |
		awk -v s="$(basename "$d")" '{
			path = $2; sub(/^[^.]*\./, "", path) # the path, without the set-up
			printf "%s %-12s %-28s %12s %s\n", path, s, $2, $3, $4
		}'
done | sort -k1,1 -k2,2 | cut -d' ' -f2-
