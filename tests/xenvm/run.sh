#!/bin/bash
# SPDX-License-Identifier: MIT
# Host side of the real-Xen harness: boots Xen 4.17 with a PV dom0 under
# qemu-system-x86_64 (TCG) and runs scenarios inside dom0.
#
#   run.sh [-t SECONDS] [-v] SCENARIO[+SCENARIO...]
#
# Several scenarios joined by '+' run one after another in one boot, in
# that order: a later one finds what the earlier ones left running (guests,
# the host port) and uses it where it fits (lib.sh), which saves a dom0 boot
# and guest boots per scenario. Each still reports its own result.
#
# dom0 gets two emulated NICs:
#   eth0  the "physical" uplink, a TAP device living in a fresh network
#         namespace that plays the external host on the LAN (10.99.0.1,
#         fd00::1);
#   mgmt  a restricted QEMU user-mode link whose only use is a guestfwd to
#         ext-agent.sh, through which scenarios run commands on the
#         external host.
# dom0 is the busybox one (mkimage.sh's dom0-base.cpio, dom0-init.sh), or,
# for a scenario whose file has the line "# ipnb-dom0: debian", a Debian 12
# dom0 with systemd (mkdebroot.sh, `make debroot`): its root disk
# build/debroot/root.img is attached with snapshot=on (never written), and
# its initramfs copies this run's overlay in, installs the project's .deb
# (build/deb, `make deb`, or the file IPNB_DEB names) with dpkg and starts
# systemd, which runs the scenarios (debdom0/ipnb-scenarios.service). The
# overlay also carries the same package repacked with the version
# <version>+upgrade1, in /ipnb/deb/upgrade/, for an upgrade. The scenarios
# of a group share one dom0, so they must all ask for the same one.
#
# Exit status: 0 if every scenario reported PASS, non-zero otherwise (with
# the relevant part of the serial log printed). QEMU and the namespace are
# removed on every exit path, including Ctrl-C and the time limit.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
img=${IPNB_IMG:-$top/build/xenvm}
limit=
verbose=0
while getopts "t:v" o; do
	case $o in
	t) limit=$OPTARG ;;
	v) verbose=1 ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
# '+', not ',': QEMU splits -initrd at commas, and the group names the run
# directory and goes on dom0's command line.
group=${1:?usage: run.sh [-t SECONDS] [-v] SCENARIO[+SCENARIO...]}
IFS=+ read -r -a scenarios <<<"$group"
dom0_kind=
for s in "${scenarios[@]}"; do
	[ -f "$here/scenarios/$s.sh" ] || { echo "run.sh: no scenario $s" >&2; exit 2; }
	k=busybox
	grep -q '^# ipnb-dom0: debian$' "$here/scenarios/$s.sh" && k=debian
	[ -z "$dom0_kind" ] || [ "$dom0_kind" = "$k" ] ||
		{ echo "run.sh: $group mixes busybox and Debian dom0 scenarios" >&2; exit 2; }
	dom0_kind=$k
done
# 900 s per scenario unless -t says otherwise.
limit=${limit:-$((900 * ${#scenarios[@]}))}
for f in xen.elf vmlinux dom0-base.cpio; do
	[ -f "$img/$f" ] || { echo "run.sh: $img/$f missing (make images)" >&2; exit 2; }
done
debroot=${IPNB_DEBROOT:-$top/build/debroot}
if [ "$dom0_kind" = debian ]; then
	for f in root.img initrd.cpio; do
		[ -f "$debroot/$f" ] || { echo "run.sh: $debroot/$f missing (make debroot)" >&2; exit 2; }
	done
	# IPNB_DEB: another build of the package than `make deb`'s.
	pkgs=(${IPNB_DEB:-"$top"/build/deb/ipnetback_*_amd64.deb})
	[ "${#pkgs[@]}" = 1 ] && [ -f "${pkgs[0]}" ] ||
		{ echo "run.sh: want one build/deb/ipnetback_*_amd64.deb (make deb)" >&2; exit 2; }
fi

rundir=$top/build/runs/$group
rm -rf "$rundir"
mkdir -p "$rundir"
serial=$rundir/serial.log
ns=ipnb-ext-$$
qpid=

cleanup_qemu() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill -TERM "$qpid" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
	fi
	qpid=
}

cleanup() {
	trap - EXIT INT TERM
	cleanup_qemu
	[ -n "${tailpid:-}" ] && kill "$tailpid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

# Namespaces left by a harness that was SIGKILLed: their owner pid is gone.
for old in $(ip netns list 2>/dev/null | awk '/^ipnb-ext-[0-9]+/ { print $1 }'); do
	kill -0 "${old#ipnb-ext-}" 2>/dev/null || ip netns del "$old" 2>/dev/null
done

# --- the external host ---------------------------------------------------------
ip netns add "$ns" || exit 1
nsx() { ip netns exec "$ns" "$@"; }
nsx ip link set lo up
nsx ip tuntap add dev tap0 mode tap || exit 1
nsx ip link set tap0 up
nsx ip addr add 10.99.0.1/24 dev tap0
nsx ip -6 addr add fd00::1/64 dev tap0 nodad

# --- per-run dom0 overlay: scenarios, configs, project binaries --------------
ov=$rundir/overlay
mkdir -p "$ov/ipnb"
cp "$here/lib.sh" "$here/kernel-netback.sh" "$here/bench.sh" "$ov/ipnb/"
cp -r "$here/scenarios" "$here/xl" "$ov/ipnb/"
if [ "$dom0_kind" = busybox ]; then
	mkdir -p "$ov/etc/xen/scripts" "$ov/usr/sbin" "$ov/etc/modprobe.d"
	[ -d "$top/build/bin" ] && cp -a "$top/build/bin/." "$ov/usr/sbin/"
	for f in "$top"/dom0-scripts/vif-*; do [ -f "$f" ] && install -m 0755 "$f" "$ov/etc/xen/scripts/"; done
	install -m 0755 "$top/dom0-scripts/ipnetback-uplink" "$ov/usr/sbin/"
	(cd "$ov" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$rundir/overlay.cpio"
	# Linux unpacks concatenated newc archives in order; the overlay wins.
	cat "$img/dom0-base.cpio" "$rundir/overlay.cpio" >"$rundir/dom0.cpio"
else
	# The Debian dom0 gets ipnetback from its package alone; the overlay
	# brings the harness (its guest agent, the scenario unit) and the
	# packages. The upgrade is the same package under a higher version:
	# what a rebuilt package changes for dpkg and the maintainer scripts.
	mkdir -p "$ov/usr/local/sbin" "$ov/ipnb/deb/upgrade" "$ov/ipnb/debdom0" \
		"$ov/etc/systemd/system/multi-user.target.wants"
	install -m 0755 "$top/build/bin/ipnb-agent" "$ov/usr/local/sbin/"
	install -m 0755 "$here/debdom0/run-scenarios.sh" "$ov/ipnb/debdom0/"
	install -m 0644 "$here/debdom0/ipnb-scenarios.service" "$ov/etc/systemd/system/"
	ln -s ../ipnb-scenarios.service "$ov/etc/systemd/system/multi-user.target.wants/"
	cp "${pkgs[0]}" "$ov/ipnb/deb/"
	rp=$rundir/repack
	dpkg-deb -R "${pkgs[0]}" "$rp"
	ver=$(sed -n 's/^Version: //p' "$rp/DEBIAN/control")
	sed -i "s/^Version: .*/Version: $ver+upgrade1/" "$rp/DEBIAN/control"
	dpkg-deb -Zgzip -b "$rp" "$ov/ipnb/deb/upgrade/ipnetback_${ver}+upgrade1_amd64.deb" >/dev/null
	rm -rf "$rp"
	# Unpacked at /overlay in the initramfs, which copies it into the root.
	(cd "$rundir" && find overlay | LC_ALL=C sort | cpio -o -H newc --quiet) >"$rundir/overlay.cpio"
	cat "$debroot/initrd.cpio" "$rundir/overlay.cpio" >"$rundir/dom0.cpio"
fi

# --- boot --------------------------------------------------------------------------
xen_args="console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 loglvl=warning guest_loglvl=warning noreboot"
# IPNB_DOM0_ARGS: more of dom0's command line, for the scenarios to read
# (make bench-xen passes ipnb.bench_seconds= this way).
dom0_args="console=hvc0 loglevel=4 ipnb.scenario=$group${IPNB_DOM0_ARGS:+ $IPNB_DOM0_ARGS}"
disk=()
if [ "$dom0_kind" = debian ]; then
	# The kernel's NIC names (the uplink is eth0), and only systemd's
	# failures on the console, which carries the markers.
	dom0_args="$dom0_args net.ifnames=0 systemd.show_status=error"
	# Writes go to a temporary file that QEMU deletes at exit: flushing
	# them (dpkg and journald fsync) would only cost time.
	disk=(-drive "file=$debroot/root.img,format=raw,if=none,id=root,snapshot=on,cache=unsafe"
		-device virtio-blk-pci,drive=root)
fi
export IPNB_EXT_NS=$ns
# For the external host's commands (ext-agent.sh inherits QEMU's
# environment): Prometheus's checker, to check what it scrapes.
export IPNB_PROMTOOL=$top/build/tools/promtool
t0=$(date +%s.%N)
# Under TCG the dom0 kernel very rarely hangs in early boot, before its
# /init runs (seen once in many runs: nothing after "about to get
# started..."). dom0 normally says @@IPNB-DOM0-UP within 10 s, 30 s on a
# loaded machine; without it after BOOT_LIMIT the boot is tried once more,
# and says so. The scenario itself has not started then: nothing of it is
# retried.
boot_limit=${IPNB_BOOT_LIMIT:-120}
# The Debian dom0 boots systemd and installs a package first: about 50 s
# on an idle machine, twice that on a busy one.
[ "$dom0_kind" = debian ] && boot_limit=${IPNB_BOOT_LIMIT:-240}
deadline=$(($(date +%s) + limit))
verdict=
for attempt in 1 2; do
	: >"$serial"
	# Started directly (not through nsx) so that $! is QEMU itself: ip netns
	# exec execs it.
	ip netns exec "$ns" qemu-system-x86_64 \
		-machine pc -cpu qemu64 -smp 2 -m 3072 \
		-display none -monitor none -no-reboot \
		-serial "file:$serial" \
		-kernel "$img/xen.elf" -append "$xen_args" \
		-initrd "$img/vmlinux $dom0_args,$rundir/dom0.cpio" \
		-netdev tap,id=up,ifname=tap0,script=no,downscript=no \
		-device e1000,netdev=up,mac=52:54:00:99:00:02 \
		-netdev "user,id=mgmt,net=10.0.2.0/24,restrict=on,guestfwd=tcp:10.0.2.100:7000-cmd:$here/ext-agent.sh" \
		-device e1000,netdev=mgmt,mac=52:54:00:00:ff:01 \
		"${disk[@]}" \
		>"$rundir/qemu.log" 2>&1 &
	qpid=$!
	if [ "$verbose" = 1 ]; then
		tail -n +1 -F "$serial" 2>/dev/null &
		tailpid=$!
	fi
	boot_deadline=$(($(date +%s) + boot_limit))
	hung=
	while kill -0 "$qpid" 2>/dev/null; do
		grep -q '^@@IPNB-END' "$serial" 2>/dev/null && break
		if [ "$(date +%s)" -ge "$deadline" ]; then
			verdict="time limit of ${limit}s reached"
			break
		fi
		if [ -n "$boot_deadline" ] && grep -q '^@@IPNB-DOM0-UP' "$serial" 2>/dev/null; then
			boot_deadline=
		elif [ -n "$boot_deadline" ] && [ "$(date +%s)" -ge "$boot_deadline" ]; then
			hung=1
			break
		fi
		sleep 0.5
	done
	[ -n "$hung" ] && [ "$attempt" = 1 ] || break
	echo "run.sh: $group: dom0 did not come up within ${boot_limit}s; booting again" >&2
	cp "$serial" "$rundir/serial-hung-boot.log"
	cleanup_qemu
	[ -n "${tailpid:-}" ] && kill "$tailpid" 2>/dev/null
	tailpid=
done
[ -n "$hung" ] && [ -z "$verdict" ] &&
	verdict="dom0 did not come up within ${boot_limit}s, twice"
# dom0 powers off after the END marker; give it a moment, then cleanup kills.
for _ in $(seq 1 20); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.25; done
elapsed=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

# A scenario that said nothing (time limit, hung boot, dom0 died) fails
# with the reason.
tr -d '\r' <"$serial" >"$rundir/serial.txt"
for s in "${scenarios[@]}"; do
	grep -q "^@@IPNB-RESULT $s " "$rundir/serial.txt" ||
		echo "@@IPNB-RESULT $s FAIL ${verdict:-dom0 ended before it reported}" >>"$rundir/serial.txt"
done
grep -E '^@@IPNB-(CHECK|METRIC|RESULT)' "$rundir/serial.txt" | sed 's/^@@IPNB-/  /'
# Each scenario's own time, from dom0's uptime at its start and end.
took() {
	awk -v s="$1" '$1 == "@@IPNB-START" && $2 == s { a = $3 } $1 == "@@IPNB-DONE" && $2 == s { b = $3 }
		END { if (a != "" && b != "") printf " in %.1fs", b - a }' "$rundir/serial.txt"
}
failed=0
for s in "${scenarios[@]}"; do
	if grep -q "^@@IPNB-RESULT $s PASS" "$rundir/serial.txt"; then
		echo "scenario $s: PASS$(took "$s")"
	else
		echo "scenario $s: FAIL$(took "$s")"
		failed=1
	fi
done
if [ "$failed" = 0 ]; then
	echo "run $group: PASS in ${elapsed}s (log: $rundir/serial.txt)"
	exit 0
fi
echo "---- run $group: last 120 lines of the serial log"
tail -n 120 "$rundir/serial.txt"
[ -s "$rundir/qemu.log" ] && { echo "---- qemu"; cat "$rundir/qemu.log"; }
echo "run $group: FAIL in ${elapsed}s (log: $rundir/serial.txt)"
exit 1
