#!/usr/bin/env bash
# Build the initramfs (gzip'd newc cpio) the real-kernel tests boot with.
#
# Usage: scripts/kernel/build-initramfs.sh [--no-node] [--out FILE]
#
# Contents:
#   /bin/busybox (+ applet links), /init (test/kernel/guest/init)
#   /test/                 test/kernel/guest/* (run.sh, taint.sh, modules.sh, guest.mjs, lib.sh)
#   /lib/kt-modules/<release>/*.ko   test modules from .cache/kernels/*/ko (when built)
#   /bin/node + its shared libraries and the dynamic loader (unless --no-node)
#   /pkg/                  the package under test (KT_PKG_DIR, default the repo), when present: package.json, dist/,
#                          build/Release/*.node, node_modules/node-gyp-build (unless --no-node)
#
# Default output: .cache/kernels/initramfs/{full,shell}.cpio.gz. The image is rebuilt only
# when an input changed (a manifest of paths, sizes and mtimes is compared).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
CACHE=${KT_KERNEL_CACHE:-$repo/.cache/kernels}
with_node=1
out=

while (($#)); do
	case $1 in
	--no-node) with_node=0 ;;
	--out) out=$2; shift ;;
	-h | --help) sed -n '2,16p' "$0"; exit 0 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
name=full
((with_node)) || name=shell
out=${out:-$CACHE/initramfs/$name.cpio.gz}
mkdir -p "$(dirname "$out")"

log() { printf '[build-initramfs] %s\n' "$*" >&2; }

busybox=$(command -v busybox || true)
if [[ -z $busybox ]] || ! file -L "$busybox" | grep -q 'statically linked'; then
	log "need a static busybox (apt-get install busybox-static)"
	exit 1
fi
command -v cpio >/dev/null || { log "need cpio (apt-get install cpio)"; exit 1; }

# ---- collect inputs: "dest<TAB>source" -------------------------------------------------------
inputs=()
add() { inputs+=("$1"$'\t'"$2"); }

add /bin/busybox "$busybox"
add /init "$repo/test/kernel/guest/init"
for f in "$repo"/test/kernel/guest/*; do
	[[ -f $f && ${f##*/} != init ]] && add "/test/${f##*/}" "$f"
done
for ko in "$CACHE"/*/ko/*.ko; do
	[[ -f $ko ]] || continue
	rel=$(cat "$(dirname "$ko")/release")
	add "/lib/kt-modules/$rel/${ko##*/}" "$ko"
done

if ((with_node)); then
	node=$(readlink -f "$(command -v node)")
	add /bin/node "$node"
	# Shared libraries and the loader, at the paths the binary asks for.
	while read -r lib; do
		add "$lib" "$(readlink -f "$lib")"
	done < <(ldd "$node" | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}' | sort -u)
	pkg=${KT_PKG_DIR:-$repo}
	# Whole directories are added as one entry (copied with cp -r).
	[[ -f $pkg/package.json ]] && add /pkg/package.json "$pkg/package.json"
	[[ -d $pkg/dist ]] && add /pkg/dist "$pkg/dist"
	for f in "$pkg"/build/Release/*.node; do
		[[ -f $f ]] && add "/pkg/build/Release/${f##*/}" "$f"
	done
	[[ -d $pkg/prebuilds/linux-x64 ]] && add /pkg/prebuilds/linux-x64 "$pkg/prebuilds/linux-x64"
	[[ -d $pkg/node_modules/node-gyp-build ]] && add /pkg/node_modules/node-gyp-build "$pkg/node_modules/node-gyp-build"
fi

# ---- up to date? ------------------------------------------------------------------------------
manifest=$(
	printf 'v3 %s\n' "$with_node"
	sha256sum "$0" | cut -d' ' -f1
	printf '%s\n' "${inputs[@]}"
	srcs=()
	for e in "${inputs[@]}"; do srcs+=("${e#*$'\t'}"); done
	find -L "${srcs[@]}" -printf '%p %s %T@\n'
)
if [[ -f $out && -f $out.manifest && $(cat "$out.manifest") == "$manifest" ]]; then
	log "up to date: $out ($(du -h "$out" | cut -f1))"
	echo "$out"
	exit 0
fi

# ---- assemble ---------------------------------------------------------------------------------
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root,lib,test}
for e in "${inputs[@]}"; do
	dest=${e%%$'\t'*}
	src=${e#*$'\t'}
	mkdir -p "$root${dest%/*}"
	cp -rL --preserve=mode "$src" "$root$dest"
done
chmod 755 "$root/init" "$root/bin/busybox"
# Applet links (relative to /bin/busybox), without overwriting real files (e.g. /init).
# (perl-base is essential on Debian; one process instead of hundreds of ln calls)
"$busybox" --list-full | (cd "$root" && perl -ne 'chomp; next if -e $_ || -l $_; symlink("/bin/busybox", $_) or die "$_: $!"')
[[ -e $root/bin/sh ]] || ln -s busybox "$root/bin/sh"
# /lib64 -> loader path on Debian is /lib64/ld-linux-x86-64.so.2 (copied above when node is in).
# kt (1000): the unprivileged user of the attribution tests (no capabilities, dmesg_restrict=1).
printf 'root:x:0:0:root:/root:/bin/sh\nkt:x:1000:1000:kt:/tmp:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nkt:x:1000:\n' >"$root/etc/group"
: >"$root/dev/.keep"

tmp=$out.tmp.$$
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip "-${KT_GZIP_LEVEL:-6}") >"$tmp"
mv "$tmp" "$out"
printf '%s\n' "$manifest" >"$out.manifest"
log "built $out ($(du -h "$out" | cut -f1), $(find "$root" -mindepth 1 | wc -l) entries, node=$with_node, pkg=$([[ -d $root/pkg/dist ]] && echo yes || echo no))"
echo "$out"
