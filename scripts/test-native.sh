#!/usr/bin/env bash
# `npm run test:native`: the addon under AddressSanitizer + UndefinedBehaviorSanitizer
# (a separate debug build in build-asan/) and under valgrind (the release build).
# Any sanitizer report or valgrind error fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== ASan + UBSan build"
npx cmake-js compile --out build-asan --debug --CDKT_SANITIZE=ON >/dev/null
asan_bin=$(ls build-asan/Debug/kernel_taint.node)
libasan=$(g++ -print-file-name=libasan.so)
libubsan=$(g++ -print-file-name=libubsan.so)

echo "== exercise under ASan + UBSan"
# Node itself is not built with ASan and leaks by design at exit, so leak
# detection is off; memory errors and UB abort the run.
LD_PRELOAD="$libasan:$libubsan" \
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_odr_violation=0 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  node test/native/exercise.cjs "$asan_bin"
LD_PRELOAD="$libasan:$libubsan" \
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_odr_violation=0 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  node test/native/exercise-watch.cjs "$asan_bin"

echo "== exercise under valgrind"
[[ -f build/Release/kernel_taint.node ]] || npx cmake-js compile --out build >/dev/null
valgrind --error-exitcode=99 --errors-for-leak-kinds=definite --leak-check=full \
  --show-leak-kinds=definite --suppressions=test/native/node.supp --quiet \
  node test/native/exercise.cjs build/Release/kernel_taint.node
valgrind --error-exitcode=99 --errors-for-leak-kinds=definite --leak-check=full \
  --show-leak-kinds=definite --suppressions=test/native/node.supp --quiet \
  node test/native/exercise-watch.cjs build/Release/kernel_taint.node
echo "native tests: ASan/UBSan and valgrind clean"
