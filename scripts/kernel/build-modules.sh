#!/usr/bin/env bash
# Build the out-of-tree test modules (test/kernel/modules/*.c) against the cached bookworm
# 6.1 headers (scripts/kernel/fetch-kernels.sh bookworm) with this machine's gcc-12.
#
#   kt_gpl.ko   MODULE_LICENSE("GPL"), out-of-tree, unsigned   -> O + E
#   kt_prop.ko  MODULE_LICENSE("Proprietary")                  -> P (+ O + E)
#   kt_warn.ko  GPL, WARN_ON(1) in its init                    -> W (+ O + E)
#
# Output: .cache/kernels/<series>/ko/*.ko  (rebuilt only when sources or headers change)
# Usage:  scripts/kernel/build-modules.sh [series]     (default: bookworm)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
CACHE=${KT_KERNEL_CACHE:-$repo/.cache/kernels}
series=${1:-bookworm}
src=$repo/test/kernel/modules
dir=$CACHE/$series
out=$dir/ko

log() { printf '[build-modules] %s\n' "$*" >&2; }

[[ -f $dir/build/Makefile ]] || {
	log "no headers in $dir/build; run scripts/kernel/fetch-kernels.sh $series first"
	exit 1
}
release=$(cat "$dir/release")
cc=gcc-12
command -v "$cc" >/dev/null || cc=gcc

key=$(
	{
		echo "$release"
		cat "$dir/kernel.env"
		"$cc" --version | head -n1
		cat "$src"/Kbuild "$src"/*.c
	} | sha256sum | cut -d' ' -f1
)
if [[ -f $out/.stamp && $(cat "$out/.stamp") == "$key" ]] && ls "$out"/*.ko >/dev/null 2>&1; then
	log "up to date: $(cd "$out" && echo *.ko) for $release"
	exit 0
fi

work=$dir/modules-build
rm -rf "$work" "$out"
mkdir -p "$work" "$out"
cp "$src"/Kbuild "$src"/*.c "$work/"
log "building against $release with $cc"
make -s -C "$dir/build" M="$work" CC="$cc" HOSTCC="$cc" modules 2>&1 |
	grep -v 'Skipping BTF generation' >&2 || true
for m in "$work"/*.ko; do
	[[ -f $m ]] || { log "build produced no .ko"; exit 1; }
done
cp "$work"/*.ko "$out/"
# Debug info is 100+ KiB per module and nothing in the guest needs it.
strip --strip-debug "$out"/*.ko
for m in "$out"/*.ko; do
	vm=$(modinfo -F vermagic "$m" 2>/dev/null || strings "$m" | sed -n 's/^vermagic=//p')
	[[ $vm == "$release "* ]] || { log "$m: vermagic '$vm' does not match $release"; exit 1; }
done
printf '%s\n' "$key" >"$out/.stamp"
printf '%s\n' "$release" >"$out/release"
rm -rf "$work"
log "built $(cd "$out" && echo *.ko) for $release"
