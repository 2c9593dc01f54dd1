# shellcheck shell=bash
# Sourced by fetch-kernels.sh and build-modules.sh: the Debian mirrors, taken from the system's
# apt configuration (read only). Sets MIRROR and SECMIRROR (no trailing slash).
# Env: KT_DEBIAN_MIRROR / KT_DEBIAN_SECURITY_MIRROR override them.
detect_mirror() { # $1 = regex the URI path must match
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -r $f ]] || continue
		grep -hoE '(https?://[^ ]+)' "$f" 2>/dev/null || true
	done | grep -E "$1" | head -n1
}
MIRROR=${KT_DEBIAN_MIRROR:-$(detect_mirror '/debian/?$')}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECMIRROR=${KT_DEBIAN_SECURITY_MIRROR:-$(detect_mirror '/debian-security/?$')}
SECMIRROR=${SECMIRROR:-http://deb.debian.org/debian-security}
MIRROR=${MIRROR%/}
SECMIRROR=${SECMIRROR%/}
