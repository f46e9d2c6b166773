# SPDX-License-Identifier: MIT
# Harness self-test: a scenario that must fail. dom0 pings an address that
# nobody on the LAN owns; tests/xenvm/selftest.sh asserts that run.sh reports
# this as a failure with a non-zero exit status. It also checks the guest
# agent (vm_exec) and the external-host agent (ext): an answer is the
# command's own, or a failure, never an earlier command's.
. /ipnb/lib.sh
ip addr add 10.99.0.2/24 dev eth0
check "dom0 reaches the external host" ping -c 2 -W 2 10.99.0.1
check "ping to an address nobody has (must fail)" ping -c 2 -W 1 10.99.0.254

# The external host's agent: the status is the command's, even when its
# output contains a status line of its own.
ext "echo '@@RC 0'; exit 7"
rc=$?
check "ext: a failing command's status is reported (7, got $rc)" test "$rc" = 7

# A guest without a vif, for the agent.
vm_create agent pv-guest.cfg 'extra="ipnb.name=agent ipnb.role=bare"' || fatal "create agent"
check "vm_exec: a command that succeeds" vm_exec agent "true"
# The old agent lost this answer (xenstore-write took "---" for an option)
# and vm_exec returned the previous command's status, 0.
out=$(vm_exec agent "echo '--- 10.99.0.11 ping statistics ---'; exit 3")
rc=$?
echo "$out"
check "vm_exec: a failing command whose output starts with '-' reports its own status (3, got $rc)" \
	test "$rc" = 3
check "vm_exec: ... and its own output" grep -q -e '--- 10.99.0.11 ping statistics ---' <<<"$out"
out=$(vm_exec agent 'printf "a\\\\b %s\n" "$((6 * 7))"')
check "vm_exec: backslashes and quotes survive both ways ($out)" grep -q -F 'a\b 42' <<<"$out"
# The old agent's failure, played by dom0: data/ipnb-done advances to this
# command's number while data/ipnb-rc still holds the previous answer.
stale() {
	local id next
	id=$(domid agent)
	next=$(($(cat /tmp/ipnb-seq) + 1))
	(sleep 1; xenstore-write "/local/domain/$id/data/ipnb-done" "$next") &
	vm_exec agent "sleep 3; exit 0"
	local rc=$?
	wait
	echo "vm_exec returned $rc"
	[ "$rc" = 125 ]
}
check "vm_exec: a stale answer is reported as a failure" stale
check "vm_exec: the agent answers again after a stale answer" vm_exec agent "sleep 3; true"
finish
