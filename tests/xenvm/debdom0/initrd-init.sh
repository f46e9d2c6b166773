#!/bin/sh
# SPDX-License-Identifier: MIT
# /init of the Debian dom0's initramfs (busybox sh; mkdebroot.sh builds it).
# Mounts the root disk (root.img, which run.sh attaches with snapshot=on),
# copies in the run's overlay (unpacked at /overlay from the cpio run.sh
# appends), installs ipnetback's package with dpkg before systemd ever runs,
# so that the boot starts the daemon through the package's own enablement,
# and hands over to systemd.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

# /proc moves under /newroot before the hand-over.
uptime() { cut -d' ' -f1 /proc/uptime 2>/dev/null || cut -d' ' -f1 /newroot/proc/uptime; }
scenario=$(tr ' ' '\n' </proc/cmdline | sed -n 's/^ipnb\.scenario=//p' | tail -n1)
die() {
	echo "@@IPNB-RESULT ${scenario:-?} FAIL initramfs: $*"
	echo "@@IPNB-END rc=1"
	poweroff -f
}

echo "ipnb-initrd: started at $(uptime) s"
# Not fatal: modprobe's list includes alternatives that may not fit this
# CPU (crc32c-intel without SSE 4.2, where crc32c-generic serves). Whether
# the disk mounts is what counts.
while read -r m; do
	insmod "$m" 2>/dev/null || echo "ipnb-initrd: insmod $m failed"
done </modules.order
# virtio-blk probes asynchronously: give the disk a moment to appear.
i=0
while [ ! -b /dev/vda ]; do
	i=$((i + 1))
	[ "$i" -le 100 ] || die "no root disk /dev/vda"
	sleep 0.1
done
mount -t ext4 -o noatime /dev/vda /newroot || die "mount /dev/vda"
[ -d /overlay ] || die "no overlay in the initramfs"
cp -a /overlay/. /newroot/ || die "copying the overlay"
echo "ipnb-initrd: root mounted, overlay in, at $(uptime) s"

# The package, as an administrator would install it, but with no systemd
# running yet: its postinst enables the unit and starts nothing. The boot's
# systemd starts it. The API filesystems move with the root, as systemd
# expects to find them.
for d in dev proc sys; do
	mount --move "/$d" "/newroot/$d" || die "moving /$d"
done
debs=$(ls /newroot/ipnb/deb/*.deb 2>/dev/null)
[ -n "$debs" ] || die "no package in /ipnb/deb"
for d in $debs; do
	# Absolute paths: busybox prefers its own applets (it has a dpkg)
	# to whatever a bare name finds in the new root.
	chroot /newroot /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		/usr/bin/dpkg -i "${d#/newroot}" >/newroot/var/log/ipnb-dpkg-initrd.log 2>&1 ||
		{ sed 's/^/  [dpkg] /' /newroot/var/log/ipnb-dpkg-initrd.log; die "dpkg -i ${d##*/}"; }
done
echo "ipnb-initrd: $(chroot /newroot /usr/bin/dpkg-query -W ipnetback) installed at $(uptime) s"
# cp -a gave /usr the overlay's newer time: systemd would take the
# packages' system users for not yet made (ConditionNeedsUpdate=).
touch /newroot/etc/.updated /newroot/var/.updated
exec switch_root /newroot /lib/systemd/systemd
