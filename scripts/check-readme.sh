#!/usr/bin/env bash
# Checks the README against the code and a fresh clone: the flag table is
# generated from lib/flags.json, every code block equals its file under
# test/examples/ (or is an excerpt of the file it names), the two fresh-clone
# commands are there (the tests, `npm ci && npm test`, which .ci/run itself
# runs; the whole job, `bash .ci/run`), and a fresh clone of HEAD runs
# `npm ci && npx kernel-taint` as CONTRIBUTING.md says (exit 0 = not tainted,
# 1 = tainted are both a working report).
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/readme-flags.mjs --check
node scripts/readme-blocks.mjs --check
grep -q 'npm ci && npm test' README.md
grep -q 'bash .ci/run' README.md
grep -q 'npm ci && npx kernel-taint' CONTRIBUTING.md
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
