#!/usr/bin/env bash
# Fetch the newest Debian cloud kernels (bookworm 6.1, trixie 6.12, sid 7.x) for the
# real-kernel end-to-end tests, plus the bookworm 6.1 headers + kbuild so that the
# out-of-tree test modules can be built with this machine's gcc-12.
#
# Usage: scripts/kernel/fetch-kernels.sh [bookworm] [trixie] [sid] [bpo-X.Y ...]   (default: the first three)
#
#   bpo-X.Y   the newest X.Y.* cloud kernel in trixie-backports (e.g. bpo-7.0), for the sweep of the
#             releases between the three main series. Exit status 3 (and nothing cached) when
#             trixie-backports holds no X.Y kernel (any more).
#
# Cache layout (idempotent; a series is only re-downloaded when apt resolves a newer package):
#   .cache/kernels/<series>/vmlinuz       the kernel image
#   .cache/kernels/<series>/release       kernel release string (uname -r)
#   .cache/kernels/<series>/kernel.env    KT_SERIES, KT_PACKAGE, KT_DEB_VERSION, KT_RELEASE, ...
#   .cache/kernels/bookworm/headers/      extracted linux-headers-*/linux-kbuild-6.1 tree
#   .cache/kernels/bookworm/build         -> headers/usr/src/linux-headers-<release> (make -C target)
#   .cache/kernels/.apt/<series>/         private apt lists/cache (the system's apt config is untouched)
#
# Every series uses its OWN apt source list, lists dir and archive cache
# (-o Dir::Etc::SourceList=... -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=... -o Dir::Cache=...),
# so neither the system's sources nor its package lists or pkgcache are modified, and nothing is installed.
#
# Environment:
#   KT_KERNEL_CACHE      cache root (default: <repo>/.cache/kernels)
#   KT_APT_MAX_AGE       seconds before the private apt lists are refreshed (default 21600 = 6 h; 0 = always)
#   KT_FETCH_OFFLINE=1   never touch the network; use whatever is cached (fails if a series is missing)
#   KT_DEBIAN_MIRROR / KT_DEBIAN_SECURITY_MIRROR   override the mirrors taken from /etc/apt/sources.list*
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
CACHE=${KT_KERNEL_CACHE:-$repo/.cache/kernels}
MAX_AGE=${KT_APT_MAX_AGE:-21600}
OFFLINE=${KT_FETCH_OFFLINE:-0}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf '[fetch-kernels] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in apt-get apt-cache dpkg-deb flock; do
	command -v "$tool" >/dev/null || die "missing $tool"
done
[[ -r $KEYRING ]] || die "missing $KEYRING (apt-get install debian-archive-keyring)"

mkdir -p "$CACHE"
# Keep the cache out of git without touching the repository's own .gitignore.
[[ -f $CACHE/../.gitignore ]] || printf '*\n' >"$CACHE/../.gitignore"

# shellcheck source=mirrors.sh
source "$here/mirrors.sh"

# --- per-series configuration ---------------------------------------------------------------
suites_for() {
	case $1 in
	bookworm) echo "M:bookworm M:bookworm-updates S:bookworm-security" ;;
	trixie) echo "M:trixie M:trixie-updates S:trixie-security" ;;
	sid) echo "M:sid" ;;
	bpo-*) echo "M:trixie-backports" ;;
	*) die "unknown series $1 (want bookworm, trixie, sid or bpo-X.Y)" ;;
	esac
}
# bpo-X.Y -> X\.Y (for name patterns); dies on anything else.
bpo_minor_re() {
	[[ $1 =~ ^bpo-([0-9]+)\.([0-9]+)$ ]] || die "bad series $1 (want bpo-X.Y)"
	echo "${BASH_REMATCH[1]}\\.${BASH_REMATCH[2]}"
}
# Name patterns: for bpo-X.Y the way to find its kernel; for the main series a fallback, used only
# if the linux-image-cloud-amd64 metapackage cannot be resolved.
fallback_regex_for() {
	case $1 in
	bookworm) echo '^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$' ;;
	trixie) echo '^linux-image-6\.12\.[0-9]+.*-cloud-amd64-unsigned$' ;;
	sid) echo '^linux-(binary-unsigned|binary|image)-[0-9][^ ]*-cloud-amd64(-unsigned)?$' ;;
	bpo-*) echo "^linux-(binary|image)-$(bpo_minor_re "$1")\\.[0-9]+\\+deb13-cloud-amd64\$" ;;
	esac
}
expected_prefix_for() {
	case $1 in
	bookworm) echo '6.1.' ;;
	trixie) echo '6.12.' ;;
	sid) echo '' ;;
	bpo-*) echo "${1#bpo-}." ;;
	esac
}

# --- private apt wrapper -----------------------------------------------------------------------
APTDIR=
apt_opts() {
	printf '%s\n' \
		-o "Dir::Etc::SourceList=$APTDIR/sources.list" \
		-o "Dir::Etc::SourceParts=/dev/null" \
		-o "Dir::State::Lists=$APTDIR/lists" \
		-o "Dir::Cache=$APTDIR/cache" \
		-o "Dir::Cache::archives=$APTDIR/cache/archives" \
		-o "Dir::Cache::pkgcache=$APTDIR/cache/pkgcache.bin" \
		-o "Dir::Cache::srcpkgcache=" \
		-o "APT::Get::List-Cleanup=1" \
		-o "Acquire::Retries=3" \
		-o "APT::Sandbox::User=root"
}
papt_get() { local -a o; mapfile -t o < <(apt_opts); apt-get -q "${o[@]}" "$@"; }
papt_cache() { local -a o; mapfile -t o < <(apt_opts); apt-cache "${o[@]}" "$@"; }
candidate() { papt_cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}'; }
has_candidate() { local c; c=$(candidate "$1"); [[ -n $c && $c != "(none)" ]]; }

setup_apt() { # $1 series
	APTDIR=$CACHE/.apt/$1
	# Every bpo-X.Y series reads the same trixie-backports lists.
	[[ $1 == bpo-* ]] && APTDIR=$CACHE/.apt/bpo
	mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
	local list="" s
	for s in $(suites_for "$1"); do
		case $s in
		M:*) list+="deb [signed-by=$KEYRING] $MIRROR ${s#M:} main"$'\n' ;;
		S:*) list+="deb [signed-by=$KEYRING] $SECMIRROR ${s#S:} main"$'\n' ;;
		esac
	done
	if [[ ! -f $APTDIR/sources.list ]] || [[ $(cat "$APTDIR/sources.list") != "${list%$'\n'}" ]]; then
		printf '%s' "$list" >"$APTDIR/sources.list"
		rm -f "$APTDIR/updated.stamp"
	fi
}

update_lists() { # $1 series
	local stamp=$APTDIR/updated.stamp now age
	now=$(date +%s)
	if [[ -f $stamp ]]; then
		age=$((now - $(stat -c %Y "$stamp")))
		if ((MAX_AGE > 0 && age < MAX_AGE)); then
			log "$1: apt lists are ${age}s old (< KT_APT_MAX_AGE=$MAX_AGE), not refreshing"
			return 0
		fi
	fi
	log "$1: apt-get update (private lists in $APTDIR)"
	if papt_get update >"$APTDIR/update.log" 2>&1; then
		touch "$stamp"
	else
		cat "$APTDIR/update.log" >&2
		return 1
	fi
}

# Resolve "<download package> <deb version> <image name stem>" for the newest cloud kernel.
resolve() { # $1 series
	local meta_ver dep rel pkg
	if [[ $1 == bpo-* ]]; then
		# Backports keep several X.Y releases side by side; the metapackage names only the newest.
		# From 6.19 the image is in linux-binary-<release> and linux-image-<release> is a
		# metapackage: prefer the package that holds the image.
		pkg=$(papt_cache search --names-only "$(fallback_regex_for "$1")" 2>/dev/null | awk '{print $1}' |
			sed -E 's/^linux-(image|binary)-//' | sort -uV | tail -n1 || true)
		[[ -n $pkg ]] || return 3
		rel=$pkg
		for pkg in "linux-binary-$rel" "linux-image-$rel"; do
			if has_candidate "$pkg"; then
				echo "$pkg $(candidate "$pkg") $rel"
				return 0
			fi
		done
		return 3
	fi
	meta_ver=$(candidate linux-image-cloud-amd64)
	if [[ -n $meta_ver && $meta_ver != "(none)" ]]; then
		dep=$(papt_cache show "linux-image-cloud-amd64=$meta_ver" 2>/dev/null |
			sed -n 's/^Depends: //p' | tr ',' '\n' | sed 's/^ *//; s/ .*//' |
			grep -E '^linux-image-.*-cloud-amd64$' | head -n1 || true)
		if [[ -n $dep ]]; then
			rel=${dep#linux-image-}
			for pkg in "linux-image-$rel-unsigned" "linux-binary-unsigned-$rel" "linux-binary-$rel" "linux-image-$rel"; do
				if has_candidate "$pkg"; then
					echo "$pkg $(candidate "$pkg") $rel"
					return 0
				fi
			done
		fi
	fi
	log "$1: metapackage linux-image-cloud-amd64 did not resolve; falling back to a name search"
	pkg=$(papt_cache search --names-only "$(fallback_regex_for "$1")" 2>/dev/null | awk '{print $1}' |
		grep -Ev -- '-dbg$' | sort -V | tail -n1 || true)
	[[ -n $pkg ]] || return 1
	rel=$(sed -E 's/^linux-(image|binary-unsigned|binary)-//; s/-unsigned$//' <<<"$pkg")
	echo "$pkg $(candidate "$pkg") $rel"
}

download() { # $1 dest dir, $2.. package names (candidate versions)
	local dest=$1
	shift
	mkdir -p "$dest"
	(cd "$dest" && papt_get download "$@" >/dev/null)
}

fetch_series() { # $1 series
	local series=$1 dir=$CACHE/$1
	mkdir -p "$dir"
	exec 9>"$dir/.lock"
	flock 9

	if [[ $OFFLINE == 1 ]]; then
		[[ -s $dir/vmlinuz && -s $dir/release ]] || die "$series: KT_FETCH_OFFLINE=1 but nothing cached in $dir"
		log "$series: offline, using cached $(cat "$dir/release")"
		return 0
	fi

	setup_apt "$series"
	if ! update_lists "$series"; then
		if [[ -s $dir/vmlinuz && -s $dir/release ]]; then
			log "$series: apt-get update failed; keeping cached kernel $(cat "$dir/release")"
			return 0
		fi
		die "$series: apt-get update failed and nothing is cached"
	fi

	local resolved pkg ver stem rc=0
	resolved=$(resolve "$series") || rc=$?
	if ((rc == 3)); then
		log "$series: trixie-backports has no such kernel"
		exit 3
	fi
	((rc == 0)) || die "$series: could not resolve a cloud kernel package"
	read -r pkg ver stem <<<"$resolved"

	local want_headers=0
	[[ $series == bookworm ]] && want_headers=1

	if [[ -f $dir/kernel.env && -s $dir/vmlinuz ]]; then
		# shellcheck disable=SC1091
		local KT_PACKAGE="" KT_DEB_VERSION="" KT_HEADERS=""
		# shellcheck source=/dev/null
		source "$dir/kernel.env"
		if [[ $KT_PACKAGE == "$pkg" && $KT_DEB_VERSION == "$ver" ]] &&
			{ ((want_headers == 0)) || [[ -n $KT_HEADERS && -f $dir/build/Makefile ]]; }; then
			log "$series: up to date ($pkg $ver)"
			return 0
		fi
	fi

	log "$series: downloading $pkg $ver"
	local tmp
	rm -rf "$dir"/.tmp.*
	tmp=$(mktemp -d "$dir/.tmp.XXXXXX")
	local -a pkgs=("$pkg")
	local hdr_arch="" hdr_common="" kbuild=""
	if ((want_headers)); then
		hdr_arch="linux-headers-$stem"
		hdr_common="linux-headers-${stem%-cloud-amd64}-common"
		local mm
		mm=$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$stem")
		kbuild="linux-kbuild-$mm"
		for p in "$hdr_arch" "$hdr_common" "$kbuild"; do
			has_candidate "$p" || die "$series: no candidate for $p"
			pkgs+=("$p")
		done
		[[ $(candidate "$hdr_arch") == "$ver" ]] || log "$series: warning: $hdr_arch version $(candidate "$hdr_arch") != $ver"
	fi
	download "$tmp/debs" "${pkgs[@]}"

	mkdir -p "$tmp/root" "$tmp/new"
	local deb
	for deb in "$tmp"/debs/*.deb; do
		dpkg-deb -x "$deb" "$tmp/root"
	done

	local vmlinuz release
	vmlinuz=$(find "$tmp/root" -type f \( -name 'vmlinuz-*' -o -name vmlinuz -o -name vmlinuz.unsigned \) | head -n1)
	[[ -n $vmlinuz ]] || die "$series: no vmlinuz in $pkg"
	case $vmlinuz in
	*/modules/*/vmlinuz*) release=$(basename "$(dirname "$vmlinuz")") ;; # usr/lib/modules/<release>/vmlinuz[.unsigned]
	*) release=${vmlinuz##*/vmlinuz-} ;;                       # boot/vmlinuz-<release>
	esac
	local prefix
	prefix=$(expected_prefix_for "$series")
	[[ -z $prefix || $release == "$prefix"* ]] || die "$series: resolved $release, expected $prefix*"
	mv "$vmlinuz" "$tmp/new/vmlinuz"
	printf '%s\n' "$release" >"$tmp/new/release"
	local config
	config=$(find "$tmp/root" -type f -name "config-$release" | head -n1)
	[[ -n $config ]] && mv "$config" "$tmp/new/config"

	local headers_rel=""
	if ((want_headers)); then
		mkdir -p "$tmp/new/headers/usr/src" "$tmp/new/headers/usr/lib"
		mv "$tmp/root/usr/src/$hdr_arch" "$tmp/root/usr/src/$hdr_common" "$tmp/new/headers/usr/src/"
		mv "$tmp/root/usr/lib/$kbuild" "$tmp/new/headers/usr/lib/"
		# The arch Makefile does `include /usr/src/<common>/Makefile`; make it relative so the
		# extracted tree works from anywhere (scripts/ and tools/ are already relative symlinks).
		printf 'include $(abspath $(dir $(lastword $(MAKEFILE_LIST)))../%s/Makefile)\n' "$hdr_common" \
			>"$tmp/new/headers/usr/src/$hdr_arch/Makefile"
		headers_rel=headers/usr/src/$hdr_arch
		ln -sfn "$headers_rel" "$tmp/new/build"
	fi

	cat >"$tmp/new/kernel.env" <<-EOF
		KT_SERIES=$series
		KT_PACKAGE=$pkg
		KT_DEB_VERSION=$ver
		KT_RELEASE=$release
		KT_HEADERS=$headers_rel
		KT_FETCHED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	EOF

	# Swap in atomically-ish: replace the managed files, keep the lock and apt dirs.
	rm -rf "$dir/headers" "$dir/build" "$dir/vmlinuz" "$dir/release" "$dir/config" "$dir/kernel.env"
	mv "$tmp/new/"* "$dir/"
	rm -rf "$tmp"
	rm -f "$APTDIR"/cache/archives/*.deb
	log "$series: cached $release ($pkg $ver)"
}

series_list=("$@")
((${#series_list[@]})) || series_list=(bookworm trixie sid)
start=$(date +%s.%N)
for s in "${series_list[@]}"; do
	fetch_series "$s"
done
printf '%-9s %-28s %-52s %s\n' SERIES RELEASE PACKAGE VERSION >&2
for s in "${series_list[@]}"; do
	(
		# shellcheck source=/dev/null
		source "$CACHE/$s/kernel.env"
		printf '%-9s %-28s %-52s %s\n' "$s" "$KT_RELEASE" "$KT_PACKAGE" "$KT_DEB_VERSION" >&2
	)
done
log "done in $(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")s"
