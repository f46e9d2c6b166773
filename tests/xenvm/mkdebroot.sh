#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the Debian 12 dom0 of the real-Xen harness (run.sh boots it for the
# scenarios that ask for it, see run.sh's header):
#
#   mkdebroot.sh [--base-only] DEB_CACHE OUT_DIR [IMG_DIR]
#
#   OUT_DIR/base/       the Debian root from Debian's packages (mmdebstrap):
#                       systemd as init, Xen's own tools with their SysV
#                       scripts, everything ipnetback's .deb depends on and
#                       the tools the scenarios use. Slow to make (about a
#                       minute, mostly downloads), so it is kept, and made
#                       again only when its recipe changes (base.key).
#   OUT_DIR/root.img    ext4 image of base/ plus the kernel modules dom0
#                       needs, the guests' kernel and initramfs and
#                       promtool. run.sh attaches it with snapshot=on, so
#                       it is never written to.
#   OUT_DIR/initrd.cpio busybox initramfs that mounts root.img, copies in the
#                       run's overlay, installs the package and hands over to
#                       systemd (debdom0/initrd-init.sh).
#
# --base-only makes base/ alone (no IMG_DIR needed): `make test` runs that
# in the background while it builds and tests the rest.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
base_only=
if [ "${1:-}" = --base-only ]; then
	base_only=1
	shift
fi
usage="usage: mkdebroot.sh [--base-only] DEB_CACHE OUT_DIR [IMG_DIR]"
cache=$(cd "${1:?$usage}" && pwd)
mkdir -p "${2:?$usage}"
out=$(cd "$2" && pwd)
img=${3:-}
[ -n "$base_only" ] || [ -n "$img" ] || { echo "$usage" >&2; exit 2; }
[ -z "$img" ] || img=$(cd "$img" && pwd)

# What the base holds beyond the Essential set. Xen's packages and the Xen
# libraries come from DEB_CACHE (the very .debs the hypervisor and the busybox
# dom0 come from), the rest from the archive.
# - systemd-sysv: systemd is /sbin/init; udev: the NICs by MAC, module
#   autoloading, and xen-utils-common depends on it;
# - what ipnetback's .deb depends on (dpkg-deb -I build/deb/*.deb), so that
#   `dpkg -i` works offline in dom0; ethtool is its Recommends;
# - what the scenarios use in dom0.
BASE_PKGS="systemd systemd-sysv udev kmod libcap-ng0 libseccomp2 iproute2 ethtool
	iputils-ping procps curl tcpdump libpcap0.8"
CACHED_PKGS="xen-utils-4.17 xen-utils-common xenstore-utils libxen* libyajl2"

# The archive: mmdebstrap's default (deb.debian.org, with bookworm-updates and
# bookworm-security added for a stable release), or IPNB_DEBIAN_MIRROR (a
# mirror URI or a sources.list file), as fetch-debs.sh follows apt's own
# configuration.
mirror=${IPNB_DEBIAN_MIRROR:-}

log() { echo "mkdebroot: $*"; }

# Temporary directories, removed on every exit path.
cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT

# The .debs of CACHED_PKGS in the cache, one path a line.
cached_debs() {
	local p
	for p in $CACHED_PKGS; do
		ls "$cache"/${p}_*.deb
	done | sort -u
}

# build_base DIR: mmdebstrap into DIR, then the changes a test dom0 needs.
build_base() {
	local dir=$1 debs aptopts=()
	# mmdebstrap hands local .debs to apt outside the chroot and to dpkg
	# inside it: both must find them under the same path.
	debs=$(mktemp -d /tmp/ipnb-debroot-debs.XXXXXX)
	cleanup+=("$debs")
	cp $(cached_debs) "$debs/"
	# A build host that accepts an archive past its Release file's
	# Valid-Until (a snapshot mirror) needs the same here.
	if apt-config dump | grep -q '^Acquire::Check-Valid-Until "false"'; then
		aptopts+=(--aptopt='Acquire::Check-Valid-Until "false"')
	fi
	# essential + --include: no apt and no priority-required set inside;
	# the merged-usr hook sets /usr up itself, without usrmerge (and perl).
	# No documentation, man pages or translations: nothing reads them.
	# (Its log, with the hooks' output: OUT_DIR/mmdebstrap.log.)
	mmdebstrap --variant=essential --mode=root --format=directory --quiet \
		--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
		--aptopt='APT::Install-Recommends "false"' "${aptopts[@]}" \
		--dpkgopt=force-unsafe-io \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--setup-hook="mkdir -p \"\$1$debs\" && cp $debs/*.deb \"\$1$debs/\"" \
		--customize-hook="rm -rf \"\$1$debs\"" \
		--include="$BASE_PKGS $(echo "$debs"/*.deb)" \
		bookworm "$dir" $mirror >"$out/mmdebstrap.log" 2>&1 ||
		{ tail -n 40 "$out/mmdebstrap.log" >&2; return 1; }
	customize_base "$dir"
}

# customize_base DIR: what makes DIR boot fast as a test dom0. Xen's units
# and journald stay as shipped.
customize_base() {
	local r=$1 u
	# A machine id of its own: with none, systemd would treat every boot
	# as the first one (ConditionFirstBoot, preset-all).
	echo 4950_4e42_6465_6230_6d30_0000_0000_0001 | tr -d _ >"$r/etc/machine-id"
	echo dom0 >"$r/etc/hostname"
	printf '127.0.0.1 localhost\n127.0.1.1 dom0\n::1 localhost\n' >"$r/etc/hosts"
	ln -sf /lib/systemd/system/multi-user.target "$r/etc/systemd/system/default.target"
	# The journal in memory: the disk is a throw-away snapshot.
	mkdir -p "$r/etc/systemd/journald.conf.d"
	printf '[Journal]\nStorage=volatile\n' >"$r/etc/systemd/journald.conf.d/ipnb.conf"
	# The management link by MAC (run.sh gives it 52:54:00:00:ff:01); the
	# uplink keeps the kernel's eth0 (net.ifnames=0 on the command line).
	mkdir -p "$r/etc/systemd/network"
	printf '[Match]\nMACAddress=52:54:00:00:ff:01\n\n[Link]\nName=mgmt\n' \
		>"$r/etc/systemd/network/10-ipnb-mgmt.link"
	# Units with nothing to do in a test dom0 that lives for minutes on a
	# throw-away disk, each a few seconds of TCG at boot: nobody logs in
	# (the console carries the harness's markers), nothing is periodic,
	# no pstore, binfmt, hugepages, POSIX queues, FUSE, configfs, debugfs
	# or tracefs user, no random seed or journal worth keeping, and the
	# initramfs mounted the root read-write.
	for u in getty.target getty@.service serial-getty@.service console-getty.service \
		systemd-logind.service systemd-user-sessions.service systemd-update-utmp.service \
		systemd-update-utmp-runlevel.service systemd-ask-password-wall.path \
		systemd-ask-password-console.path systemd-pstore.service \
		proc-sys-fs-binfmt_misc.automount systemd-binfmt.service dev-hugepages.mount \
		dev-mqueue.mount sys-fs-fuse-connections.mount sys-kernel-config.mount \
		sys-kernel-debug.mount sys-kernel-tracing.mount modprobe@dm_mod.service \
		modprobe@loop.service modprobe@fuse.service modprobe@configfs.service \
		systemd-random-seed.service systemd-journal-flush.service systemd-remount-fs.service \
		$(cd "$r/lib/systemd/system" && ls ./*.timer); do
		ln -sf /dev/null "$r/etc/systemd/system/${u#./}"
	done
	rm -f "$r/etc/systemd/system/getty.target.wants/"* "$r/etc/systemd/system/timers.target.wants/"*
	# Generators run at boot and on every daemon-reload (a package's
	# postinst does one): these have nothing to find here (no encrypted,
	# verity or integrity volumes, GPT auto-mounts, resume image, offline
	# update or rc.local). The SysV one makes xen.service: it stays.
	mkdir -p "$r/etc/systemd/system-generators"
	for u in cryptsetup gpt-auto hibernate-resume integritysetup veritysetup system-update rc-local; do
		ln -sf /dev/null "$r/etc/systemd/system-generators/systemd-$u-generator"
	done
}

# The key of the base: its recipe, and the cached .debs it installs.
base_key() {
	{
		declare -f build_base customize_base
		echo "$BASE_PKGS $CACHED_PKGS $mirror"
		cached_debs | xargs -n1 basename
	} | sha256sum | cut -c1-16
}

key=$(base_key)
if [ -d "$out/base" ] && [ "$(cat "$out/base.key" 2>/dev/null)" = "$key" ]; then
	log "base is up to date ($key)"
else
	log "building the Debian base with mmdebstrap"
	t0=$SECONDS
	rm -rf "$out/base" "$out/base.new" "$out/base.key"
	cleanup+=("$out/base.new")
	build_base "$out/base.new"
	mv "$out/base.new" "$out/base"
	echo "$key" >"$out/base.key"
	log "base built in $((SECONDS - t0)) s ($(du -sh "$out/base" | cut -f1))"
fi
[ -z "$base_only" ] || exit 0

# --- the disk image and the initramfs ----------------------------------------
work=$(mktemp -d "$out/.mkdebroot.XXXXXX")
cleanup+=("$work")
kver=$(cat "$img/kernel-version")
kdeb=$(ls "$cache"/linux-image-"$kver"_*.deb)

# The kernel's modules, with a modules.dep of their own to resolve
# dependencies from.
mkdir -p "$work/k"
dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$work/k" ./lib/modules
depmod -b "$work/k" "$kver"

# mod_files MOD...: the .ko files of MOD and of what they need, in load order.
mod_files() {
	local m
	for m in "$@"; do
		modprobe -d "$work/k" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++'
}

# The root: the base, hard-linked (nothing below writes to a file of it, only
# new files into copied directories), plus what this build of the harness
# brings.
root=$work/root
cp -al "$out/base" "$root"
kmods=$root/usr/lib/modules/$kver
mkdir -p "$kmods"
cp "$work/k/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$kmods/"
# What a dom0 loads (Xen's init script loads xenfs, xen-evtchn and
# xen-gntdev; udev the NIC drivers; opening /dev/net/tun loads tun), the
# bridge for a scenario that wants one, the root disk's modules, and
# xen-netback, so that the package's modprobe rule is what keeps it out;
# autofs4, which systemd loads at start (and warns without).
mod_files xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback e1000 tun bridge \
	virtio_pci virtio_blk ext4 autofs4 | while read -r f; do
	install -D -m 0644 "$f" "$root${f#"$work/k"}"
done
depmod -b "$root" "$kver"
install -D -m 0644 "$img/vmlinux" "$root/var/lib/ipnb/vmlinux"
install -D -m 0644 "$img/domu.cpio" "$root/var/lib/ipnb/domu.cpio"
promtool=${IPNB_PROMTOOL:-$here/../../build/tools/promtool}
if [ -x "$promtool" ]; then
	install -D -m 0755 "$promtool" "$root/usr/local/bin/promtool"
else
	log "no promtool at $promtool: the deploy scenario will skip its check"
fi
# systemd runs its ConditionNeedsUpdate= units (systemd-sysusers here)
# whenever /usr is newer than these: what they do was done when the
# packages were installed. (New files, not the base's: it is hard-linked.)
rm -f "$root/etc/.updated" "$root/var/.updated"
touch "$root/etc/.updated" "$root/var/.updated"

# ext4 without a journal (the snapshot is thrown away), with room for the
# run's writes: the file is sparse.
kb=$(du -sk "$root" | cut -f1)
mke2fs -q -t ext4 -O ^has_journal -m 0 -L ipnbroot -E root_owner=0:0 -d "$root" \
	"$work/root.img" "$((kb + 512 * 1024))k" >/dev/null

# The initramfs: static busybox, the root disk's modules and the /init.
ird=$work/initrd
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,lib/modules}
install -m 0755 /bin/busybox "$ird/bin/busybox"
for a in $(/bin/busybox --list); do
	[ -e "$ird/bin/$a" ] || ln -s busybox "$ird/bin/$a"
done
mod_files virtio_pci virtio_blk ext4 | while read -r f; do
	install -m 0644 "$f" "$ird/lib/modules/"
	echo "/lib/modules/${f##*/}" >>"$ird/modules.order"
done
install -m 0755 "$here/debdom0/initrd-init.sh" "$ird/init"
(cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$work/initrd.cpio"

mv -f "$work/root.img" "$work/initrd.cpio" "$out/"
log "$out/root.img ($(du -h "$out/root.img" | cut -f1) used) and initrd.cpio"
