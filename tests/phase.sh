#!/bin/bash
# SPDX-License-Identifier: MIT
# Times the phases of `make test` (Makefile, target test).
#   phase.sh LABEL CMD...   runs CMD and appends "LABEL<TAB>SECONDS<TAB>STATUS"
#                           to build/phases; exits with CMD's status
#   phase.sh --report       prints the phases recorded so far as a table
top=$(cd "$(dirname "$0")/.." && pwd)
log=$top/build/phases

if [ "${1:-}" = --report ]; then
	[ -f "$log" ] || exit 0
	echo "==== make test: time per phase"
	awk -F'\t' '{ printf "  %-22s %7.1f s  %s\n", $1, $2, $3 == 0 ? "ok" : "FAILED (" $3 ")"; t += $2 }
		END { printf "  %-22s %7.1f s  (%.1f min)\n", "total", t, t / 60 }' "$log"
	exit 0
fi

label=${1:?usage: phase.sh LABEL CMD... | --report}
shift
mkdir -p "$(dirname "$log")"
t0=$(date +%s.%N)
"$@"
rc=$?
printf '%s\t%s\t%s\n' "$label" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" "$rc" >>"$log"
exit $rc
