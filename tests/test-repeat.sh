#!/bin/bash
# SPDX-License-Identifier: MIT
# make test-repeat N=3: runs `make test` N times in a row, each in a fresh
# clone of the current commit in a temporary directory, as CI would (CI=true,
# no stdin). Prints each run's result and time, keeps each log in
# build/repeat/, and exits non-zero if any run failed. Uncommitted changes
# are not part of the clones: commit first.
set -u
n=${1:-3}
top=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$top" rev-parse HEAD) || exit 2
git -C "$top" diff --quiet HEAD || echo "test-repeat: note: uncommitted changes are not tested"
logs=$top/build/repeat
mkdir -p "$logs"
results=()
failed=0
for i in $(seq 1 "$n"); do
	dir=$(mktemp -d /tmp/ipnb-repeat.XXXXXX)
	log=$logs/run-$i.log
	echo "test-repeat: run $i of $n: commit ${commit:0:12} in $dir"
	t0=$(date +%s)
	if git clone -q "$top" "$dir/src" && git -C "$dir/src" checkout -q "$commit" &&
		(cd "$dir/src" && CI=true make test </dev/null >"$log" 2>&1); then
		r=PASS
	else
		r=FAIL
		failed=$((failed + 1))
	fi
	dt=$(($(date +%s) - t0))
	results+=("run $i: $r in $((dt / 60)) min $((dt % 60)) s (log: $log)")
	echo "test-repeat: ${results[-1]}"
	tail -n 20 "$log" | sed -n '/==== make test: time per phase/,$p'
	rm -rf "$dir"
done
echo "==== test-repeat: commit ${commit:0:12}, $n runs"
printf '  %s\n' "${results[@]}"
[ "$failed" -eq 0 ]
