#!/usr/bin/env bash
# Build the out-of-tree test modules (test/kernel/modules/*.c) for the kernels the real-kernel
# suite boots, against headers of the SAME Debian package version as the cached kernel
# (scripts/kernel/fetch-kernels.sh <series> must have run first):
#
#   kt_gpl.ko   MODULE_LICENSE("GPL"), out-of-tree, unsigned   -> O + E
#   kt_prop.ko  MODULE_LICENSE("Proprietary")                  -> P (+ O + E)
#   kt_warn.ko  GPL, WARN_ON(1) in its init                    -> W (+ O + E)
#
#   bookworm   6.1: the cached bookworm headers, with this machine's gcc-12 (Debian 12's compiler).
#   trixie     6.12, and bpo-X.Y (trixie-backports): those kernels are built with gcc-14, which
#              Debian 12 lacks. A trixie chroot (mmdebstrap --variant=apt, cached in
#              .cache/kernels/chroot/trixie, ~340 MB, ~15 s cold) gets linux-headers-<release>=<version>
#              installed from trixie / trixie-security / trixie-backports, and the modules are built
#              inside it, in a private mount namespace with /proc mounted (objtool on 7.x reads
#              /proc/self/...). Nothing is mounted or installed on the host.
#
# Output: .cache/kernels/<series>/ko/*.ko + release (rebuilt only when the kernel package, the
#         compiler or the sources change). Every .ko's vermagic must start with the release.
# Usage:  scripts/kernel/build-modules.sh [series ...]     (default: bookworm)
# Needs:  gcc-12 + make (bookworm); mmdebstrap + network access to the Debian mirror (the others).
# Env:    KT_KERNEL_CACHE, KT_APT_MAX_AGE (seconds before the chroot's apt lists are refreshed,
#         default 21600), KT_DEBIAN_MIRROR / KT_DEBIAN_SECURITY_MIRROR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
CACHE=${KT_KERNEL_CACHE:-$repo/.cache/kernels}
MAX_AGE=${KT_APT_MAX_AGE:-21600}
src=$repo/test/kernel/modules
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf '[build-modules] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

sources_key() { cat "$src"/Kbuild "$src"/*.c; }

# Check vermagic, strip, stamp. $1 = work dir with the built .ko, $2 = out dir, $3 = release, $4 = key
install_ko() {
	local work=$1 out=$2 release=$3 key=$4 m vm
	for m in kt_gpl kt_prop kt_warn; do
		[[ -f $work/$m.ko ]] || die "build produced no $m.ko for $release"
	done
	rm -rf "$out"
	mkdir -p "$out"
	cp "$work"/kt_*.ko "$out/"
	# Debug info is 100+ KiB per module and nothing in the guest needs it.
	strip --strip-debug "$out"/*.ko
	for m in "$out"/*.ko; do
		vm=$(modinfo -F vermagic "$m" 2>/dev/null || strings "$m" | sed -n 's/^vermagic=//p')
		[[ $vm == "$release "* ]] || die "$m: vermagic '$vm' does not match $release"
	done
	printf '%s\n' "$key" >"$out/.stamp"
	printf '%s\n' "$release" >"$out/release"
	log "built $(cd "$out" && echo *.ko) for $release"
}

up_to_date() { # $1 out dir, $2 key
	[[ -f $1/.stamp && $(cat "$1/.stamp") == "$2" ]] && ls "$1"/kt_*.ko >/dev/null 2>&1
}

# ---- bookworm: host gcc-12 against the extracted headers ----------------------------------------
build_bookworm() {
	local series=$1 dir=$CACHE/$1
	local out=$dir/ko
	[[ -f $dir/build/Makefile ]] || die "no headers in $dir/build; run scripts/kernel/fetch-kernels.sh $series first"
	local release cc key
	release=$(cat "$dir/release")
	cc=gcc-12
	command -v "$cc" >/dev/null || cc=gcc
	command -v make >/dev/null || die "need make (apt-get install make gcc-12)"
	key=$({
		echo "$release"
		cat "$dir/kernel.env"
		"$cc" --version | head -n1
		sources_key
	} | sha256sum | cut -d' ' -f1)
	if up_to_date "$out" "$key"; then
		log "up to date: $(cd "$out" && echo *.ko) for $release"
		return 0
	fi
	local work=$dir/modules-build
	rm -rf "$work"
	mkdir -p "$work"
	cp "$src"/Kbuild "$src"/*.c "$work/"
	log "building against $release with $cc"
	make -s -C "$dir/build" M="$work" CC="$cc" HOSTCC="$cc" modules 2>&1 |
		grep -v 'Skipping BTF generation' >&2 || true
	install_ko "$work" "$out" "$release" "$key"
	rm -rf "$work"
}

# ---- trixie / trixie-backports: a cached trixie chroot with gcc-14 -------------------------------
# shellcheck source=mirrors.sh
source "$here/mirrors.sh"
ROOT=$CACHE/chroot/trixie
CHROOT_PKGS=gcc-14,make,libc6-dev,libelf-dev,bc,kmod,ca-certificates

chroot_sources() {
	printf 'deb [signed-by=%s] %s %s main\n' \
		"$KEYRING" "$MIRROR" trixie \
		"$KEYRING" "$MIRROR" trixie-updates \
		"$KEYRING" "$SECMIRROR" trixie-security \
		"$KEYRING" "$MIRROR" trixie-backports
}

# Run a command inside the chroot, in a private mount namespace with /proc mounted (torn down
# with the namespace, so nothing stays mounted on the host even if this is killed).
in_chroot() {
	unshare --mount --propagation private -- sh -c '
		root=$1; shift
		mount -t proc proc "$root/proc"
		[ -c "$root/dev/null" ] || mount --bind /dev "$root/dev"
		# A private devpts instance, so that dpkg can log through a pty.
		[ -d "$root/dev/pts" ] && mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts" 2>/dev/null
		exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
			DEBIAN_FRONTEND=noninteractive HOME=/root "$@"' sh "$ROOT" "$@"
}

ensure_chroot() {
	local want
	want=$(printf '%s\n%s\n' "$CHROOT_PKGS" "$(chroot_sources)" | sha256sum | cut -d' ' -f1)
	if [[ -f $ROOT.stamp && $(cat "$ROOT.stamp") == "$want" && -x $ROOT/usr/bin/gcc-14 ]]; then
		return 0
	fi
	command -v mmdebstrap >/dev/null || die "need mmdebstrap to build modules for trixie kernels (apt-get install mmdebstrap)"
	command -v unshare >/dev/null || die "need unshare (util-linux)"
	[[ -r $KEYRING ]] || die "missing $KEYRING (apt-get install debian-archive-keyring)"
	log "creating the trixie chroot (gcc-14) in $ROOT"
	rm -rf "$ROOT" "$ROOT.stamp"
	mkdir -p "$(dirname "$ROOT")"
	local -a mirrors
	mapfile -t mirrors < <(chroot_sources)
	local t0=$SECONDS
	mmdebstrap --quiet --mode=root --variant=apt --include="$CHROOT_PKGS" \
		--aptopt='Acquire::Retries "3"' --aptopt='APT::Install-Recommends "false"' \
		trixie "$ROOT" "${mirrors[@]}" >&2 || die "mmdebstrap failed"
	printf '%s\n' "$want" >"$ROOT.stamp"
	touch "$ROOT.lists"
	log "chroot ready in $((SECONDS - t0)) s ($(du -sh "$ROOT" | cut -f1))"
}

chroot_update() { # refresh the chroot's apt lists ($1=force)
	local age=$MAX_AGE
	if [[ ${1:-} != force && -f $ROOT.lists ]]; then
		age=$(($(date +%s) - $(stat -c %Y "$ROOT.lists")))
		((MAX_AGE > 0 && age < MAX_AGE)) && return 0
	fi
	log "apt-get update in the chroot"
	in_chroot apt-get -q -o Acquire::Retries=3 update >/dev/null || die "apt-get update in the chroot failed"
	touch "$ROOT.lists"
}

build_chroot() {
	local series=$1 dir=$CACHE/$1
	local out=$dir/ko
	[[ -f $dir/kernel.env && -s $dir/release ]] || die "nothing cached for $series; run scripts/kernel/fetch-kernels.sh $series first"
	local KT_DEB_VERSION="" KT_RELEASE=""
	# shellcheck source=/dev/null
	source "$dir/kernel.env"
	local release=$KT_RELEASE ver=$KT_DEB_VERSION
	[[ -n $release && -n $ver ]] || die "$dir/kernel.env lacks KT_RELEASE/KT_DEB_VERSION"
	local key
	key=$({
		echo "$release $ver"
		cat "$ROOT.stamp" 2>/dev/null || true
		sources_key
	} | sha256sum | cut -d' ' -f1)
	if up_to_date "$out" "$key"; then
		log "up to date: $(cd "$out" && echo *.ko) for $release ($ver)"
		return 0
	fi
	ensure_chroot
	# The stamp of a freshly created chroot is part of the key.
	key=$({
		echo "$release $ver"
		cat "$ROOT.stamp"
		sources_key
	} | sha256sum | cut -d' ' -f1)
	local hdr=linux-headers-$release
	local marker=$ROOT/usr/src/$hdr/.kt-deb-version
	if [[ ! -f $marker || $(cat "$marker") != "$ver" ]]; then
		chroot_update
		# The headers must come from the same package version as the booted kernel.
		if ! in_chroot apt-cache show "$hdr=$ver" >/dev/null 2>&1; then
			chroot_update force
			in_chroot apt-cache show "$hdr=$ver" >/dev/null 2>&1 ||
				die "$hdr=$ver is not in trixie/-security/-backports any more; run scripts/kernel/fetch-kernels.sh $series to move to the current kernel"
		fi
		# 6.12's headers package depends on its kernel image, which would drag systemd and
		# initramfs-tools into the chroot: install the dependencies except the image, then unpack
		# the headers package itself.
		local -a deps
		mapfile -t deps < <(in_chroot apt-cache show "$hdr=$ver" | sed -n '0,/^Depends: /s/^Depends: //p' |
			tr ',' '\n' | grep -v 'linux-image-' | sed -E 's/^ *//; s/ *\|.*$//' |
			sed -E 's/^([^ ]+) \(= ([^)]+)\)$/\1=\2/; s/ .*$//')
		log "installing $hdr=$ver in the chroot (with ${deps[*]})"
		local t0=$SECONDS
		in_chroot apt-get -q -y -o Acquire::Retries=3 install --no-install-recommends "${deps[@]}" >/dev/null ||
			die "installing the dependencies of $hdr=$ver failed"
		rm -rf "$ROOT/tmp/kt-debs"
		mkdir -p "$ROOT/tmp/kt-debs"
		in_chroot sh -c 'cd /tmp/kt-debs && apt-get -q -o Acquire::Retries=3 -o APT::Sandbox::User=root download "$1" >/dev/null && dpkg-deb -x ./*.deb /' \
			sh "$hdr=$ver" || die "unpacking $hdr=$ver failed"
		rm -rf "$ROOT/tmp/kt-debs"
		in_chroot apt-get -q clean
		[[ -f $ROOT/usr/src/$hdr/Makefile ]] || die "$hdr=$ver has no Makefile in /usr/src/$hdr"
		printf '%s\n' "$ver" >"$marker"
		log "headers installed in $((SECONDS - t0)) s"
	fi
	local rel_work=/build/kt-$release
	local work=$ROOT$rel_work
	rm -rf "$work"
	mkdir -p "$work"
	cp "$src"/Kbuild "$src"/*.c "$work/"
	log "building against $release ($ver) with $(in_chroot gcc-14 --version | head -n1)"
	# No pahole in the chroot: skip BTF for the modules (the guest does not need it).
	in_chroot make -s -C "/usr/src/$hdr" M="$rel_work" CONFIG_DEBUG_INFO_BTF_MODULES= modules >&2 ||
		die "module build failed for $release"
	install_ko "$work" "$out" "$release" "$key"
	rm -rf "$work"
}

series_list=("$@")
((${#series_list[@]})) || series_list=(bookworm)
mkdir -p "$CACHE"
exec 8>"$CACHE/.build-modules.lock"
flock 8
for s in "${series_list[@]}"; do
	case $s in
	bookworm) build_bookworm "$s" ;;
	trixie | bpo-*) build_chroot "$s" ;;
	*) die "no module recipe for $s (bookworm, trixie, bpo-X.Y)" ;;
	esac
done
