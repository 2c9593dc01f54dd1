#!/usr/bin/env bash
# Installs the Debian 12 packages that `npm run test:packaging` needs to run
# every prebuild (needs root; idempotent). `npm run prebuilds` itself needs none
# of them: its compiler (zig) comes from the npm registry.
#
#   qemu-user                 runs the arm64 prebuilds (qemu-aarch64)
#   libstdc++6-arm64-cross    the arm64 glibc libraries the arm64 Node from npm needs
#   musl-tools                musl-gcc, the x86_64 musl loader and libc for napi-host.c
#   gcc-aarch64-linux-gnu     compiles napi-host.c for aarch64 ...
#   musl-dev:arm64            ... against the aarch64 musl (and its loader), via multiarch
#   file                      file(1), a second opinion on each prebuild's architecture
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(qemu-user libstdc++6-arm64-cross musl-tools gcc-aarch64-linux-gnu musl-dev:arm64 file)

update=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  update=1
fi
need=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  if ((update)) || ! apt-cache show musl-dev:arm64 >/dev/null 2>&1; then apt-get update -qq; fi
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "prebuild-deps: ok ($(qemu-aarch64 --version | head -1), musl-gcc: $(command -v musl-gcc))"
