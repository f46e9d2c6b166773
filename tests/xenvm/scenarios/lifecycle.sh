# ipnetbackd and the guest lifecycle (issue 3, scenarios 5 and 6): xl destroy
# in the middle of a transfer, the same guest created again, and xl
# network-detach / network-attach on a running guest.
. /ipnb/lib.sh

# The sanitizer build: every path below (connect, destroy, detach, hostile
# key churn) must leave no leak and no undefined behaviour.
IPNB_DAEMON=ipnetbackd-asan
ipnb_start || fatal "ipnetbackd did not start"
pid=$IPNB_DAEMON_PID
# What the daemon holds: open fds, and grant mappings (gntdev VMAs).
held() { echo "$(ls /proc/$pid/fd | wc -l) fds, $(grep -c gntdev /proc/$pid/maps) maps"; }
idle=$(held)
log "ipnetbackd idle: $idle"

ipnb_guest g1 11 || fatal "create g1"
ipnb_guest g3 13 || fatal "create g3"
vm_wait g1 g3 || fatal "guests did not boot"
with2=$(held)
ipnb_guest g2 12 || fatal "create g2"
vm_wait g2 || fatal "g2 did not boot"
check "g1 pings g2" vm_exec g1 "ping -c 1 -W 3 10.99.0.12"
log "ipnetbackd with g1, g2, g3: $(held)"

# 5. Destroy g2 while g1 streams to it.
vm_exec g2 "iperf3 -s -1 >/dev/null 2>&1 &"
vm_exec g1 "iperf3 -c 10.99.0.12 -t 30 >/dev/null 2>&1 &"
sleep 3
g2id=$(domid g2)
t0=$(cut -d' ' -f1 /proc/uptime)
check "xl destroy g2 mid-transfer" xl destroy g2
t1=$(cut -d' ' -f1 /proc/uptime)
dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
metric lifecycle.destroy_seconds "$dt" s
check "xl destroy took under 10 s ($dt s)" awk -v d="$dt" 'BEGIN { exit !(d < 10) }'
check "g1 still reaches g3" vm_exec g1 "ping -c 1 -W 3 10.99.0.13"
check "g3 still reaches g1 (IPv6)" vm_exec g3 "ping -c 1 -W 3 fd00::11"
for _ in $(seq 1 20); do [ "$(held)" = "$with2" ] && break; sleep 0.5; done
check "fds and grant mappings back to the 2-guest level ($with2 -> $(held))" test "$(held)" = "$with2"
check_fails "backend directory of g2 removed" xenstore-exists "/local/domain/0/backend/vif/$g2id"
check "ipnetbackd forgot g2's vif" sh -c "! ipnetback vif list | grep -q '^$g2id/0 '"

ipnb_guest g2 12 || fatal "re-create g2"
vm_wait g2 || fatal "g2 did not boot again"
check "re-created g2 pings g1" vm_exec g2 "ping -c 1 -W 3 10.99.0.11"
check "g1 pings re-created g2 (IPv6)" vm_exec g1 "ping -c 1 -W 3 fd00::12"

# 6. Detach g3's vif, then attach a new one with the same addresses.
check "xl network-detach g3 0" xl network-detach g3 0
check_fails "g1 cannot reach g3 after detach" vm_exec g1 "ping -c 2 -W 1 10.99.0.13"
check "vif of g3 released by ipnetbackd" sh -c "! ipnetback vif list | grep -q '^$(domid g3)/0 '"
check "xl network-attach g3" xl network-attach g3 mac=00:16:3e:00:00:13 'ip=10.99.0.13 fd00::13' \
	script=vif-ipnetback
check "g3 gets a new eth device" vm_exec g3 "for i in \$(seq 1 50); do ls /sys/class/net | grep -q eth && exit 0; sleep 0.2; done; exit 1"
vm_exec g3 "d=\$(ls /sys/class/net | grep eth | head -n1); /sbin/ip link set \$d up && /sbin/ip addr add 10.99.0.13/24 dev \$d && /sbin/ip -6 addr add fd00::13/64 dev \$d nodad"
check "g1 reaches g3 after re-attach" vm_exec g1 "ping -c 1 -W 3 10.99.0.13"
check "g3 reaches g2 over IPv6 after re-attach" vm_exec g3 "ping -c 1 -W 3 fd00::12"

# A guest rewriting its own frontend keys in a tight loop: the daemon's
# memory stays flat and the others keep working. One xenstore-write call
# makes 200 writes (one watch event each); exec is what is slow under TCG.
rss() { awk '/^VmRSS/ { print $2 }' /proc/$pid/status; }
churn() { # ROUNDS
	vm_exec -t 300 g1 "a=; for i in \$(seq 1 100); do a=\"\$a device/vif/0/feature-sg \$((i % 2)) device/vif/0/state 4\"; done
		for r in \$(seq 1 $1); do xenstore-write \$a || exit 1; done"
}
churn 20 # let the allocator settle
r0=$(rss)
check "guest rewrote its frontend keys 4000 times" churn 20
r1=$(rss)
log "ipnetbackd RSS during key churn: $r0 kB -> $r1 kB"
check "daemon RSS flat under key churn ($r0 -> $r1 kB)" test "$r1" -le $((r0 + 256))
check "g2 still reaches g3 after the churn" vm_exec g2 "ping -c 1 -W 3 10.99.0.13"

ipnetback vif list
check "ipnetbackd exits cleanly with no sanitizer report" ipnb_stop
finish
