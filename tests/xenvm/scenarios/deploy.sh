# SPDX-License-Identifier: MIT
# ipnb-dom0: debian
# Deploy (issues 10 and 11): ipnetback as an administrator installs it, on a
# Debian 12 dom0 with systemd and Debian's own Xen packages (run.sh boots
# it for this scenario, from build/debroot, see mkdebroot.sh). The initramfs
# installed the package with `dpkg -i` before systemd started; from there
# on, nothing of the daemon is started by hand:
#   - the boot started ipnetbackd.service through the package's enablement,
#     after Debian's xen.service (the SysV script /etc/init.d/xen) had
#     started xenstored, and no unit failed; the modprobe rule keeps
#     xen-netback out; the journal has the daemon's lines at their
#     priorities and no warning;
#   - xl.conf names vif-ipnetback as the default vif script, and two guests
#     made with plain `xl create` (ip= on the vif line, no script=) reach
#     each other and carry TCP intact; a rate= on g1's vif holds its TCP
#     throughput to the rate;
#   - `systemctl reload` leaves the daemon as it is, `ipnetback metrics`
#     passes promtool and shows both vifs;
#   - `systemctl restart`, then `dpkg -i` of a newer version of the package
#     (same files, version <ver>+upgrade1, made by run.sh), each while g1
#     streams to g2: the stream carries on and arrives intact, and the
#     upgrade restarted the daemon. g1's rate keeps the stream from taking
#     every cycle of the emulated machine, which would make the operation
#     itself take minutes.
. /ipnb/lib.sh

# prop UNIT PROPERTY: one property of a unit, as systemctl shows it.
prop() { systemctl show -p "$2" --value "$1"; }
# The unit's own lines in this boot's journal at priorities PRI (a level or
# a range, as journalctl -p takes it), message text only.
ujournal() { journalctl -b -q --no-pager -u ipnetbackd -p "$1" -o cat; }
word2() { awk '{ print $2; exit }'; }

# --- 1. Guests through xl.conf's default vif script ----------------------------
# Created first: they boot while the boot's checks run.
echo 'vif.default.script="vif-ipnetback"' >>/etc/xen/xl.conf
check "xl.conf: vif.default.script=\"vif-ipnetback\"" grep -qx 'vif.default.script="vif-ipnetback"' /etc/xen/xl.conf
# guest_cfg NAME N [VIF-KEYS]: /etc/xen/NAME.cfg, as an administrator
# writes it: ip= on the vif line, no script=.
guest_cfg() {
	cat >"/etc/xen/$1.cfg" <<-EOF
		name = "$1"
		type = "pv"
		kernel = "$IPNB_KERNEL"
		ramdisk = "$IPNB_RAMDISK"
		extra = "$IPNB_GUEST_ARGS ipnb.name=$1 ipnb.ip4=10.99.0.$2/24 ipnb.ip6=fd00::$2/64"
		memory = 128
		vcpus = 1
		on_crash = "destroy"
		on_reboot = "destroy"
		vif = [ 'mac=00:16:3e:00:00:$2,ip=10.99.0.$2 fd00::$2${3:+,$3}' ]
	EOF
}
guest_cfg g1 11 rate=8Mb/s
guest_cfg g2 12
check_fails "no script= in the guests' configurations" grep -q 'script' /etc/xen/g1.cfg /etc/xen/g2.cfg
# dom0's own addresses on the guests' prefixes, as on a LAN (docs/host.md):
# dom0 reaches the guests from them, through the host port.
ip addr add 10.99.0.2/24 dev eth0
ip -6 addr add fd00::2/64 dev eth0 nodad
# Both at once: each takes seconds of dom0's time under TCG.
xl create -q /etc/xen/g1.cfg >/tmp/xl-create-g1.log 2>&1 &
xl1=$!
xl create -q /etc/xen/g2.cfg >/tmp/xl-create-g2.log 2>&1 &
xl2=$!
xl_created() { wait "$1" || { cat "/tmp/xl-create-$2.log"; return 1; }; }
check "xl create /etc/xen/g1.cfg (rate=8Mb/s)" xl_created $xl1 g1
check "xl create /etc/xen/g2.cfg" xl_created $xl2 g2
log "guests created"

# --- 2. The boot --------------------------------------------------------------
# Every command costs dom0 a good part of a second under TCG: the units'
# properties are read once, into U[unit.property].
declare -A U
units=(ipnetbackd.service xen.service xendomains.service ipnb-scenarios.service
	systemd-modules-load.service)
i=0
while IFS='=' read -r k v; do
	if [ -z "$k" ]; then i=$((i + 1)); else U[${units[$i]%.service}.$k]=$v; fi
done < <(systemctl show -p SourcePath,ActiveState,UnitFileState,NRestarts \
	-p InactiveExitTimestampMonotonic,ActiveEnterTimestampMonotonic,ExecMainStartTimestampMonotonic \
	"${units[@]}")
ipnb_at=${U[ipnetbackd.ActiveEnterTimestampMonotonic]}
check "dpkg -i (before the boot) enabled ipnetbackd.service" test "${U[ipnetbackd.UnitFileState]}" = enabled
check "ipnetbackd is active, started by the boot before this scenario, never restarted" \
	test "${U[ipnetbackd.ActiveState]}" = active -a "$ipnb_at" -gt 0 -a \
	"$ipnb_at" -lt "${U[ipnb-scenarios.ExecMainStartTimestampMonotonic]}" -a "${U[ipnetbackd.NRestarts]}" = 0
check "xen.service is Debian's SysV script /etc/init.d/xen, active" \
	test "${U[xen.SourcePath]}" = /etc/init.d/xen -a "${U[xen.ActiveState]}" = active
check "ipnetbackd started once xen.service was up (After=xen.service)" \
	test "${U[ipnetbackd.InactiveExitTimestampMonotonic]}" -ge "${U[xen.ActiveEnterTimestampMonotonic]}"
check "xendomains.service started once ipnetbackd was ready (Before=xendomains.service)" \
	test "${U[xendomains.InactiveExitTimestampMonotonic]}" -ge "$ipnb_at"
xs_pid=$(pidof oxenstored xenstored)
xs_pid=${xs_pid%% *}
log "xenstored: pid ${xs_pid:-none}, $(tr '\0' ' ' <"/proc/${xs_pid:-0}/cmdline" 2>/dev/null)"
xs_cg=$(<"/proc/${xs_pid:-0}/cgroup") 2>/dev/null
check "xenstored runs, in xen.service's cgroup (started by Debian's xen unit)" \
	test "${xs_cg##*/}" = xen.service
failed=$(systemctl --failed --plain --no-legend)
[ -z "$failed" ] || echo "$failed"
check "no unit failed at boot" test -z "$failed"
check "systemd-modules-load.service and xen.service active" \
	test "${U[systemd-modules-load.ActiveState]}" = active -a "${U[xen.ActiveState]}" = active
check "xen-netback is not loaded (lsmod)" sh -c "! lsmod | grep -q '^xen_netback '"
check "modprobe xen-netback succeeds and loads nothing (the package's install rule)" \
	sh -c "modprobe xen-netback && ! lsmod | grep -q '^xen_netback '"
# The unit's journal with each line's priority, as JSON, read once. Every
# line is info (6) unless the daemon says otherwise, so the start line at
# info proves little alone: no "<N>" prefix may be left in the text either
# (journald took it as the priority).
journalctl -b -q --no-pager -u ipnetbackd -o json --output-fields=PRIORITY,MESSAGE >/tmp/journal.json
check "journal: no warning or error from ipnetbackd so far" \
	sh -c "! grep -q '\"PRIORITY\":\"[0-4]\"' /tmp/journal.json"
check "journal: the daemon's start line at info, no raw <N> prefix" sh -c \
	"grep '\"PRIORITY\":\"6\"' /tmp/journal.json | grep -q '\"MESSAGE\":\"ipnetbackd: started; control socket' &&
	! grep -q '\"MESSAGE\":\"<[0-7]>' /tmp/journal.json"

# --- 3. The guests -------------------------------------------------------------
log "boot checked"
vm_wait g1 g2 || fatal "guests did not boot"
g1be=/local/domain/0/backend/vif/$(domid g1)/0
g2be=/local/domain/0/backend/vif/$(domid g2)/0
check "libxl ran vif-ipnetback for both vifs (xl.conf's default)" sh -c \
	"xenstore-read $g1be/script $g2be/script | grep -c '^/etc/xen/scripts/vif-ipnetback\$' | grep -qx 2"
check "g1's vif has libxl's rate for 8Mb/s (50000 bytes per 50 ms)" \
	test "$(xenstore-read "$g1be/rate")" = 50000,50000
check "g1 pings g2 (IPv4)" vm_exec g1 "ping -c 1 -W 3 10.99.0.12"
check "g2 pings g1 (IPv4)" vm_exec g2 "ping -c 1 -W 3 10.99.0.11"
check "g1 pings g2 (IPv6)" vm_exec g1 "ping -c 1 -W 3 fd00::12"
check "dom0 pings g1 through the host port" ping -c 1 -W 3 10.99.0.11
check "dom0 pings g2 through the host port (IPv6)" ping -c 1 -W 3 fd00::12
check "TCP g1 -> g2: 2 MiB arrive intact (SHA-256)" tcp_transfer g1 g2 10.99.0.12 2

# --- 4. Reload, metrics, rate -------------------------------------------------
log "guests checked"
pid0=$(prop ipnetbackd MainPID)
check "systemctl reload ipnetbackd" systemctl reload ipnetbackd
hup_logged() { ujournal info | grep -q 'SIGHUP'; }
check "the daemon logged the SIGHUP" within 5 hup_logged
check "after the reload: same MainPID ($pid0), still active" sh -c \
	"[ \"\$(systemctl show -p MainPID --value ipnetbackd)\" = '$pid0' ] && systemctl is-active -q ipnetbackd"
check "g1 pings g2 after the reload" vm_exec g1 "ping -c 1 -W 3 10.99.0.12"

ipnetback metrics >/tmp/metrics.txt
if [ -x /usr/local/bin/promtool ]; then
	check "promtool check metrics accepts ipnetback metrics" sh -c "promtool check metrics </tmp/metrics.txt"
else
	log "no promtool in this dom0 (mkdebroot.sh found none): metrics not linted"
fi
for g in g1 g2; do
	check "ipnetback metrics has $g's vif" grep -q \
		"^ipnetback_vif_rx_packets_total{domid=\"$(domid $g)\",devid=\"0\",vifname=\"vif$(domid $g).0\",domain=\"$g\"} [1-9]" \
		/tmp/metrics.txt
done
check "... and g1's rate (1000000 bytes/s)" grep -q \
	"^ipnetback_vif_rate_limit_bytes_per_second{.*domain=\"g1\"} 1000000$" /tmp/metrics.txt

# rate=8Mb/s limits what g1 sends: iperf3 for 5 s, the receiver's figure
# (TCP payload; the limit counts whole frames, some 4 % more). g2 sends
# unlimited first, for 2 s, for reference: the lower bound says something
# only if the emulated machine, sharing its host, moves more than the rate
# (a TCG guest alone sends 20 Mbit/s and more).
iperf_rate() { # FROM TO ADDR SECONDS: the receiver's Mbit/s
	local out
	vm_exec "$2" "(timeout 60 iperf3 -s -1 >/dev/null 2>&1 &); $(listening 5201)" >/dev/null || return 1
	out=$(vm_exec "$1" "iperf3 -c $3 -t $4 -f m") || { echo "$out" >&2; return 1; }
	echo "$out" | grep -E 'sender|receiver' >&2
	echo "$out" | awk '/receiver/ { print $(NF-2) }' | tail -n1
}
# The daemon's CPU time meanwhile, in clock ticks (utime + stime), as
# metrics: what the emulated dom0 spends on each kind of traffic.
cpu_ticks() { local f; read -r -a f <"/proc/$(prop ipnetbackd MainPID)/stat"; echo $((f[13] + f[14])); }
c0=$(cpu_ticks)
ref=$(iperf_rate g2 g1 10.99.0.11 2)
c1=$(cpu_ticks)
lim=$(iperf_rate g1 g2 10.99.0.12 5)
c2=$(cpu_ticks)
metric deploy.g2_unlimited_tcp "${ref:-none}" Mbit/s
metric deploy.g1_rate_8mbit_tcp "${lim:-none}" Mbit/s
metric deploy.daemon_cpu_unlimited_2s $((c1 - c0)) ticks
metric deploy.daemon_cpu_rate_8mbit_5s $((c2 - c1)) ticks
if awk -v r="${ref:-0}" 'BEGIN { exit !(r >= 12) }'; then
	check "TCP from g1 (rate=8Mb/s): $lim Mbit/s, within 8 +-20 % (g2 unlimited: $ref)" \
		awk -v r="${lim:-0}" 'BEGIN { exit !(r >= 6.4 && r <= 9.6) }'
else
	check "TCP from g1 (rate=8Mb/s): $lim Mbit/s, at most 8 +20 % (g2 unlimited only $ref: no lower bound)" \
		awk -v r="${lim:-99}" 'BEGIN { exit !(r <= 9.6) }'
fi

# --- 5. Restart and upgrade under traffic (issue 11) --------------------------
# A stream from g1 to g2 that lasts as long as needed, whatever the speed:
# g1 sends a 2 MiB random chunk over and over until told to stop, counting
# the chunks (one in about 2 s, at g1's rate). g2 hashes each 2 MiB it
# receives as it comes: intact means as many hashes as chunks sent, each
# the chunk's. (Hashing the whole stream again at the end on g1 took
# seconds of TCG per stream; hashing on g1 as it sent slowed it threefold.)
st=/tmp/ipnb-st
stream_start() { # PORT
	local rx=/tmp/ipnb-rx-$1
	vm_exec g2 "rm -f $rx.*; printf '#!/bin/sh\nwhile dd bs=2097152 count=1 iflag=fullblock of=$rx.part 2>/dev/null && [ -s $rx.part ]; do sha256sum <$rx.part >>$rx.shas; done\n' >$rx.sh && chmod +x $rx.sh && (timeout 600 busybox nc -l -p $1 -e $rx.sh >/dev/null 2>&1 &); $(listening "$1")" ||
		return 1
	vm_exec g1 "rm -f $st.*; dd if=/dev/urandom of=$st.bin bs=1M count=2 2>/dev/null && printf '#!/bin/sh\nwhile [ ! -e $st.stop ]; do cat $st.bin || exit 1; echo >>$st.reps; done\n' >$st.send && chmod +x $st.send && ( (busybox nc -w 60 10.99.0.12 $1 -e $st.send; echo \$? >$st.done) >/dev/null 2>&1 &)"
}
stream_reps() { vm_exec g1 "cat $st.reps 2>/dev/null | wc -l" | word2; }
stream_past() { [ "$(stream_reps)" -gt "$1" ] 2>/dev/null; }
stream_running() { ! vm_exec g1 "test -e $st.done"; }
# stream_intact PORT: stopped, it ended, and g2 got every chunk sent, whole.
stream_intact() {
	local a n got want
	vm_exec g1 "touch $st.stop" >/dev/null
	within 60 vm_exec g1 "test -s $st.done" >/dev/null || { echo "the stream did not end"; return 1; }
	n=$(stream_reps)
	a=$(vm_exec g1 "sha256sum <$st.bin" | word2)
	want="$n $a;"
	# "COUNT SHA-256;" for each distinct hash g2 took, once it has them all.
	for _ in $(seq 1 20); do
		got=$(vm_exec g2 "sort /tmp/ipnb-rx-$1.shas 2>/dev/null | uniq -c" | awk '{ printf "%s %s;", $2, $3 }')
		[ "$got" = "$want" ] && break
		sleep 0.5
	done
	log "g1 -> g2: $n chunks of 2 MiB sent, SHA-256 $a; received (count, SHA-256): $got"
	[ -n "$a" ] && [ "$got" = "$want" ] && [ "$n" -ge 2 ]
}
# under_stream NAME PORT DESC CMD...: CMD (check DESC) while the stream
# runs, then checks that the stream carried on after it and arrived intact.
under_stream() {
	local name=$1 port=$2 desc=$3 r t0
	shift 3
	if ! { stream_start "$port" && within 60 stream_past 0; }; then
		check "$name: a stream g1 -> g2 started" false
		return
	fi
	t0=$(cut -d' ' -f1 /proc/uptime)
	check "$name: $desc" "$@"
	log "$name: $desc took $(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", b - a }') s"
	check "$name: the stream was still running after it" stream_running
	r=$(stream_reps)
	check "$name: the stream carried on (past chunk $r)" within 60 stream_past "$r"
	check "$name: every chunk arrived, intact (SHA-256 of each)" stream_intact "$port"
}

log "reload, metrics and rate checked"
pid0=$(prop ipnetbackd MainPID)
under_stream restart 5001 "systemctl restart ipnetbackd" systemctl restart ipnetbackd
pid1=$(prop ipnetbackd MainPID)
check "restart: a new MainPID ($pid0 -> $pid1), active" sh -c \
	"[ '$pid1' != '$pid0' ] && [ '$pid1' != 0 ] && systemctl is-active -q ipnetbackd"

old=$(dpkg-query -W -f '${Version}' ipnetback)
up=$(ls /ipnb/deb/upgrade/ipnetback_*.deb)
log "upgrade: $old -> ${up##*/}"
upgrade() { dpkg -i "$up" >/tmp/dpkg-upgrade.log 2>&1 || { cat /tmp/dpkg-upgrade.log; return 1; }; }
under_stream upgrade 5002 "dpkg -i ${up##*/}" upgrade
sed 's/^/  [dpkg] /' /tmp/dpkg-upgrade.log
pid2=$(prop ipnetbackd MainPID)
check "upgrade: dpkg -s ipnetback shows $old+upgrade1" sh -c \
	"dpkg -s ipnetback | grep -qx 'Version: $old+upgrade1' && dpkg -s ipnetback | grep -qx 'Status: install ok installed'"
check "upgrade: the package restarted the daemon (MainPID $pid1 -> $pid2), active" sh -c \
	"[ '$pid2' != '$pid1' ] && [ '$pid2' != 0 ] && systemctl is-active -q ipnetbackd"
pings_both() { vm_exec g1 "ping -c 1 -W 3 10.99.0.12" && vm_exec g2 "ping -c 1 -W 3 10.99.0.11"; }
check "g1 and g2 still reach each other" pings_both

# --- 6. Packet capture ----------------------------------------------------------
# `ipnetback capture` of g2's vif (by its domain's name) while g1 pings g2,
# stopping by itself after 4 ICMP packets; Debian's tcpdump reads the file.
captures_are() { [ "$(ctl_count captures daemon)" = "$1" ]; }
ipnetback capture g2 -c 4 -w /tmp/g2.pcap icmp 2>/tmp/g2-cap.log &
cap=$!
check "capture: ipnetback capture g2 runs" within 10 captures_are 1
vm_exec g1 "ping -c 3 -W 3 10.99.0.12" >/dev/null
check "capture: it stopped after 4 packets, status 0" wait "$cap"
cat /tmp/g2-cap.log
tcpdump -nn -r /tmp/g2.pcap >/tmp/g2.txt 2>/dev/null
sed 's/^/  [tcpdump] /' /tmp/g2.txt
check "capture: tcpdump -r shows g1's echo requests to g2 and g2's replies" sh -c \
	"[ \$(wc -l </tmp/g2.txt) = 4 ] && grep -q 'IP 10.99.0.11 > 10.99.0.12: ICMP echo request' /tmp/g2.txt &&
	grep -q 'IP 10.99.0.12 > 10.99.0.11: ICMP echo reply' /tmp/g2.txt"
check "capture: none left running" within 10 captures_are 0

# --- 7. The journal, over the whole run ---------------------------------------
journalctl -b -q --no-pager -u ipnetbackd -o short-monotonic | sed 's/^/  [journal] /'
check "journal: no warning or error from ipnetbackd in the whole run" test -z "$(ujournal warning)"
finish
