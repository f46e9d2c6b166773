#!/bin/bash
# SPDX-License-Identifier: MIT
# Fetches the Debian packages the VM images are built from (Xen hypervisor,
# toolstack, runtime libraries, kernel) into a cache in the build tree.
# Versions are resolved from the archive at run time: nothing here names an
# ABI version. Idempotent and quiet when the cache is already complete.
set -euo pipefail

cache=${1:?usage: fetch-debs.sh CACHE_DIR}
mkdir -p "$cache"
cd "$cache"

# The dom0/domU kernel is whatever the linux-image-amd64 metapackage points at.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
if [ -z "$kpkg" ]; then
	apt-get update -qq
	kpkg=$(apt-cache depends linux-image-amd64 |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
fi
[ -n "$kpkg" ] || { echo "fetch-debs: cannot resolve linux-image-amd64" >&2; exit 1; }

# Xen 4.17 and everything Xen-specific it pulls in, followed recursively.
# Generic libraries (libc, zlib, ...) come from the build host, which is the
# same Debian release.
want="xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils"
# One apt-cache call per level of the dependency tree keeps this fast.
seen=""
level="$want"
while [ -n "$level" ]; do
	seen="$seen $level"
	next=""
	for d in $(apt-cache depends $level 2>/dev/null |
		awk '$1 == "Depends:" && $2 !~ /^</ { print $2 }' | sort -u); do
		case "$d" in
		libxen* | xen-* | xenstore-* | libyajl*)
			case " $seen $next " in *" $d "*) ;; *) next="$next $d" ;; esac
			;;
		esac
	done
	level="$next"
done
pkgs="$seen $kpkg"

# One stamp per resolved package set: a new kernel or Xen in the archive
# changes the set and triggers a fresh download.
stamp=".complete-$(echo $pkgs | tr ' ' '\n' | sort | md5sum | cut -c1-12)"
if [ -e "$stamp" ]; then
	exit 0
fi
rm -f ./*.deb .complete-*
echo "fetch-debs: downloading$pkgs"
apt-get download -q $pkgs >/dev/null 2>download.log ||
	{ cat download.log >&2; exit 1; }
echo "$kpkg" >kernel-package
touch "$stamp"
