#!/usr/bin/env bash
# Checks that the README's first command works on a fresh clone: clone HEAD
# into a temp dir and run `npm ci && npx kernel-taint` exactly as a newcomer
# would (exit 0 = not tainted, 1 = tainted are both a working report). The
# test command (`npm ci && npm test`) is what .ci/run itself runs on its fresh
# clone. Also fails when the README's flag table is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/readme-flags.mjs --check
grep -q 'npm ci && npx kernel-taint' README.md
grep -q 'npm ci && npm test' README.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone -q . "$tmp/kernel-taint"
cd "$tmp/kernel-taint"
set +e
(npm ci --no-audit --no-fund >/dev/null 2>&1 && npx kernel-taint)
rc=$?
set -e
if [[ $rc -ne 0 && $rc -ne 1 ]]; then
  echo "README main command failed on a fresh clone (exit $rc)" >&2
  exit 1
fi
echo "README main command works on a fresh clone (exit $rc)"
