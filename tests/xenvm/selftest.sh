#!/bin/bash
# SPDX-License-Identifier: MIT
# The harness's own test: a scenario that must fail is reported as a failure
# with a non-zero exit, a run that overruns its time limit is stopped, and
# neither leaves a QEMU process, TAP device or namespace behind.
set -u
here=$(cd "$(dirname "$0")" && pwd)
pass=0
fail=0
ok() { echo "selftest: PASS $*"; pass=$((pass + 1)); }
ko() { echo "selftest: FAIL $*"; fail=$((fail + 1)); }

leftovers() {
	local l=""
	pgrep -f 'qemu-system-x86_64.*build/runs/' >/dev/null && l="$l qemu"
	ip netns list 2>/dev/null | grep -q '^ipnb-ext-' && l="$l netns"
	ip -o link show type tun 2>/dev/null | grep -q 'tap0' && l="$l tap"
	echo "$l"
}

before=$(leftovers)
[ -z "$before" ] || echo "selftest: note: leftovers before the test:$before"

out=$("$here/run.sh" -t 240 selftest-fail 2>&1)
rc=$?
if [ $rc -ne 0 ]; then ok "a failing scenario exits non-zero ($rc)"; else ko "a failing scenario exited 0"; fi
if grep -q 'CHECK FAIL ping to an address nobody has' <<<"$out"; then
	ok "the failing check is named in the report"
else
	ko "the failing check is not named"; echo "$out" | tail -n 40
fi
if grep -q 'CHECK PASS dom0 reaches the external host' <<<"$out"; then
	ok "the passing check in the same scenario is reported as passing"
else
	ko "dom0 could not reach the external host"
fi
# The agents: each of these checks inside the failing scenario must pass.
for c in "ext: a failing command's status is reported (7" \
	"vm_exec: a command that succeeds" \
	"vm_exec: a failing command whose output starts with '-' reports its own status (3" \
	"vm_exec: ... and its own output" \
	"vm_exec: backslashes and quotes survive both ways" \
	"vm_exec: a stale answer is reported as a failure" \
	"vm_exec: the agent answers again after a stale answer"; do
	if grep -q -F "CHECK PASS $c" <<<"$out"; then
		ok "$c"
	else
		ko "$c"
		grep -F "$c" <<<"$out"
	fi
done
l=$(leftovers)
if [ -z "$l" ]; then ok "no QEMU, TAP or namespace left after a failure"; else ko "left behind:$l"; fi

# A time limit far below the boot time: the run must fail and clean up.
out=$("$here/run.sh" -t 3 selftest-fail 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q 'time limit of 3s reached' <<<"$out"; then
	ok "a run over its time limit is stopped and reported"
else
	ko "time limit not enforced (rc=$rc)"
fi
l=$(leftovers)
if [ -z "$l" ]; then ok "no QEMU, TAP or namespace left after a timeout"; else ko "left behind:$l"; fi

echo "selftest: $pass passed, $fail failed"
[ $fail -eq 0 ]
