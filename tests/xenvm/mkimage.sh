#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the boot artefacts for the real-Xen harness from the cached .debs:
#   xen.elf         gunzipped hypervisor (multiboot ELF32 that qemu -kernel boots)
#   vmlinux         uncompressed kernel, used for dom0 and every domU (TCG
#                   boots it about twice as fast as the XZ bzImage)
#   domu.cpio       busybox initramfs for PV guests (netfront, ping, iperf3,
#                   xenstore tools, the test agent build/bin/ipnb-agent, and the hostile
#                   frontend build/bin/hostile-fe with its libraries)
#   dom0-base.cpio  dom0 userland: busybox, bash, iproute2, the Xen toolstack,
#                   kernel modules, and the domU kernel and initramfs
# The per-run part of dom0 (scenarios, xl configs, project binaries) is a
# separate small cpio that run.sh appends, so editing a scenario does not
# rebuild this.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: mkimage.sh DEB_CACHE OUT_DIR}
out=${2:?usage: mkimage.sh DEB_CACHE OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "$out/.mkimage.XXXXXX")
trap 'rm -rf "$work"' EXIT

pkgroot=$work/pkgroot
mkdir -p "$pkgroot"
for d in "$cache"/*.deb; do dpkg-deb -x "$d" "$pkgroot"; done
kver=$(ls "$pkgroot/lib/modules")
xenbin=/usr/lib/xen-4.17/bin
xenlibs=$pkgroot/usr/lib/x86_64-linux-gnu:$pkgroot/lib/x86_64-linux-gnu

# --- hypervisor and kernel -------------------------------------------------
gunzip -c "$pkgroot"/boot/xen-4.17-amd64.gz >"$work/xen.elf"
# The bzImage payload is XZ: find its magic and decompress from there.
vmlinuz=$pkgroot/boot/vmlinuz-$kver
off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n1 | cut -d: -f1)
tail -c +$((off + 1)) "$vmlinuz" | xz -dc >"$work/vmlinux" 2>/dev/null || true
file "$work/vmlinux" | grep -q 'ELF 64-bit' ||
	{ echo "mkimage: could not extract vmlinux from $vmlinuz" >&2; exit 1; }

# --- helpers -----------------------------------------------------------------
# copy_elf ROOT FILE [DEST]: copy an executable and every shared library it
# needs (resolved with the unpacked Xen libraries first, then the host's).
copy_elf() {
	local root=$1 src=$2 dst=${3:-$2} lib
	install -D -m 0755 "$src" "$root$dst"
	for lib in $(LD_LIBRARY_PATH=$xenlibs ldd "$src" 2>/dev/null |
		awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'); do
		# Libraries from the unpacked .debs keep their install path.
		[ -e "$root${lib#"$pkgroot"}" ] || install -D -m 0755 "$lib" "$root${lib#"$pkgroot"}"
	done
}

# copy_modules ROOT MOD...: copy kernel modules plus their dependencies and
# write ROOT/etc/modules.order, the insmod order the init scripts follow.
copy_modules() {
	local root=$1 m f
	shift
	mkdir -p "$root/etc"
	for m in "$@"; do
		modprobe -d "$pkgroot" -S "$kver" --show-depends "$m" |
			awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++' | while read -r f; do
		install -D -m 0644 "$f" "$root/lib/modules/${f##*/}"
		echo "/lib/modules/${f##*/}" >>"$root/etc/modules.order"
	done
}

# xenstore-utils ships one multi-call binary that dispatches on argv[0].
copy_xenstore_tools() {
	local root=$1 t
	copy_elf "$root" "$pkgroot/usr/bin/xenstore" /usr/bin/xenstore
	for t in read write rm ls list exists watch chmod; do
		ln -sf xenstore "$root/usr/bin/xenstore-$t"
	done
}

base_root() {
	local root=$1
	mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,var/log,usr/bin,usr/sbin}
	ln -s /run "$root/var/run"
	install -m 0755 /bin/busybox "$root/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
	done
	# iproute2, not busybox's ip: the scenarios need nodad, master, etc.
	rm -f "$root/bin/ip"
	copy_elf "$root" /usr/bin/ip /sbin/ip
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
}

mkcpio() { (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$2"; }

depmod -b "$pkgroot" "$kver"

# --- domU ------------------------------------------------------------------
domu=$work/domu
base_root "$domu"
copy_elf "$domu" /usr/bin/iperf3
copy_xenstore_tools "$domu"
# xen-gntalloc and xen-evtchn: /dev/xen/gntalloc and /dev/xen/evtchn for the
# hostile frontend, which plays netfront in userspace (tests/hostile/).
copy_modules "$domu" xen-netfront xen-gntalloc xen-evtchn
hostile_fe=${IPNB_HOSTILE_FE:-$here/../../build/bin/hostile-fe}
if [ -x "$hostile_fe" ]; then
	copy_elf "$domu" "$hostile_fe" /usr/bin/hostile-fe
else
	echo "mkimage: $hostile_fe not built: the hostile scenario will fail" >&2
fi
agent=${IPNB_AGENT:-$here/../../build/bin/ipnb-agent}
[ -x "$agent" ] || { echo "mkimage: $agent not built" >&2; exit 1; }
copy_elf "$domu" "$agent" /usr/bin/ipnb-agent
install -m 0755 "$here/domu-init.sh" "$domu/init"
mkcpio "$domu" "$work/domu.cpio"

# --- dom0 ------------------------------------------------------------------
dom0=$work/dom0
base_root "$dom0"
copy_elf "$dom0" /bin/bash
copy_elf "$dom0" /usr/sbin/ethtool
copy_elf "$dom0" /usr/bin/iperf3
# tcpdump reads back what `ipnetback capture` writes; it brings libpcap,
# which the CLI links too. Debian's tcpdump drops root for the user its
# package creates, and refuses to run without it.
copy_elf "$dom0" /usr/bin/tcpdump
echo 'tcpdump:x:100:100::/nonexistent:/bin/false' >>"$dom0/etc/passwd"
echo 'tcpdump:x:100:' >>"$dom0/etc/group"
ln -sf bash "$dom0/bin/sh.bash"
for f in "$pkgroot$xenbin"/*; do
	file "$f" | grep -q ELF && copy_elf "$dom0" "$f" "$xenbin/${f##*/}"
done
copy_xenstore_tools "$dom0"
# libgcc_s is dlopen()ed by glibc for pthread_cancel/backtraces: xl aborts
# without it.
install -D -m 0644 /lib/x86_64-linux-gnu/libgcc_s.so.1 "$dom0/lib/x86_64-linux-gnu/libgcc_s.so.1"
# What ipnetbackd links besides the Xen libraries (its sandbox, and yajl,
# which xl brings too); the daemon itself comes with each run's overlay.
for l in libseccomp.so.2 libcap-ng.so.0 libyajl.so.2; do
	install -D -m 0644 "$(readlink -f "/lib/x86_64-linux-gnu/$l")" "$dom0/lib/x86_64-linux-gnu/$l"
done
cp -a "$pkgroot/etc/xen" "$dom0/etc/"
copy_modules "$dom0" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs \
	xen-netback bridge e1000 tun
mkdir -p "$dom0"/var/lib/xen "$dom0"/var/log/xen/console "$dom0"/var/lib/ipnb
install -m 0644 "$work/vmlinux" "$dom0/var/lib/ipnb/vmlinux"
install -m 0644 "$work/domu.cpio" "$dom0/var/lib/ipnb/domu.cpio"
install -m 0755 "$here/dom0-init.sh" "$dom0/init"
mkcpio "$dom0" "$work/dom0-base.cpio"

mv -f "$work/xen.elf" "$work/vmlinux" "$work/domu.cpio" "$work/dom0-base.cpio" "$out/"
echo "$kver" >"$out/kernel-version"
