#!/bin/sh
# /init of the test domUs (busybox). Brings up the kernel's xen-netfront with
# the addresses given on the kernel command line (xl `extra=`), unless
# ipnb.role=hostile leaves the vif to tests/hostile/hostile-fe, then runs the
# test agent: dom0 writes "SEQ COMMAND" to data/ipnb-cmd in this domain's
# xenstore home, the agent runs it and answers in data/ipnb-out ("SEQ", a
# newline, then the output) and data/ipnb-rc ("SEQ STATUS"), and finally
# data/ipnb-done=SEQ (written last, so dom0 never sees a half-written
# answer). tests/xenvm/lib.sh, vm_exec, is the other end.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^ipnb\.$1=//p" | tail -n1; }
# ipnb.role=hostile: the vif belongs to tests/hostile/hostile-fe (run through
# the agent), so the kernel's netfront must not claim it. ipnb.role=bare: a
# guest with no vif at all (the harness's self-test of the agent).
role=$(arg role)

while read -r m; do
	case "$role:$m" in
	hostile:*/xen-netfront.ko) continue ;;
	esac
	insmod "$m"
done </etc/modules.order

# Receiving end of the integrity transfers: nc -l -p PORT -e ipnb-recv FILE.
printf '#!/bin/sh\nexec cat >"$1"\n' >/usr/bin/ipnb-recv
chmod 0755 /usr/bin/ipnb-recv

name=$(arg name)
ip4=$(arg ip4)
ip6=$(arg ip6)
gw4=$(arg gw4)
hostname "${name:-domu}"

# Debian's busybox runs its own applets before searching PATH, so iproute2
# (needed for nodad) is called by its full path.
ip() { /sbin/ip "$@"; }
ip link set lo up
if [ "$role" = hostile ] || [ "$role" = bare ]; then
	echo "ipnb-domu: $name up: $role, no netfront"
else
	i=0
	while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	ip link set eth0 up
	# nodad: the tests want addresses usable at once; DAD is covered separately.
	[ -n "$ip4" ] && ip addr add "$ip4" dev eth0
	[ -n "$ip6" ] && ip -6 addr add "$ip6" dev eth0 nodad
	[ -n "$gw4" ] && ip route add default via "$gw4"
	echo "ipnb-domu: $name up: eth0 $ip4 $ip6 mac $(cat /sys/class/net/eth0/address)"
fi

# Every xenstore-write below ends its options with "--" and writes raw (-R):
# a command's output that starts with "-" (a ping summary cut to its tail,
# say) must be a value, not an option, and backslashes must stay as they are.
xenstore-write -R -- data/ipnb-ready 1
# One watch for the agent's whole life: xenstore-watch prints the path once
# when the watch is registered and once per write after that, so a command
# written at any moment is read after at least one line, and an idle agent
# forks nothing (a poll loop costs a guest two processes a second, which
# under TCG slowed every other domain). A line read while the command is
# still the last one answered is ignored. Should the watch end (xenstored
# restarting), it is set up again; the loop runs in a subshell of the pipe,
# so the last sequence number answered is kept in a file.
: >/tmp/ipnb-last
while :; do
	xenstore-watch data/ipnb-cmd 2>/dev/null | while read -r _; do
		read -r last </tmp/ipnb-last
		c=$(xenstore-read -R data/ipnb-cmd 2>/dev/null)
		seq=${c%% *}
		[ -z "$c" ] || [ "$seq" = "$last" ] && continue
		echo "$seq" >/tmp/ipnb-last
		sh -c "${c#* }" >/tmp/ipnb-out 2>&1 </dev/null
		rc=$?
		# The answer carries its command's sequence number twice (the
		# first line of ipnb-out, and ipnb-rc as "SEQ RC"), so that dom0
		# can tell it from an earlier command's answer even if a write
		# below is lost. If the output cannot be written, the failure is
		# the answer.
		if ! xenstore-write -R -- data/ipnb-out "$seq
$(tail -c 2048 /tmp/ipnb-out)" data/ipnb-rc "$seq $rc"; then
			xenstore-write -R -- data/ipnb-out "$seq
ipnb-agent: could not write the output of command $seq" data/ipnb-rc "$seq 125"
		fi
		xenstore-write -R -- data/ipnb-done "$seq" || echo "ipnb-agent: could not answer command $seq" >/dev/console
	done
	sleep 1
done
