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
LD_PRELOAD="$libasan:$libubsan" \
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_odr_violation=0 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  node test/native/exercise-attribution.cjs "$asan_bin"

echo "== exercise under valgrind"
node scripts/build-native.mjs >/dev/null
valgrind --error-exitcode=99 --errors-for-leak-kinds=definite --leak-check=full \
  --show-leak-kinds=definite --suppressions=test/native/node.supp --quiet \
  node test/native/exercise.cjs build/Release/kernel_taint.node
valgrind --error-exitcode=99 --errors-for-leak-kinds=definite --leak-check=full \
  --show-leak-kinds=definite --suppressions=test/native/node.supp --quiet \
  node test/native/exercise-watch.cjs build/Release/kernel_taint.node
valgrind --error-exitcode=99 --errors-for-leak-kinds=definite --leak-check=full \
  --show-leak-kinds=definite --suppressions=test/native/node.supp --quiet \
  node test/native/exercise-attribution.cjs build/Release/kernel_taint.node
echo "== watch thread under ThreadSanitizer"
# Node itself is not built with TSan, so its own thread hand-offs (Workers,
# V8 platform jobs) show up as reports, sometimes with an addon call further
# down the stack (a V8 job joined while we were called). A report fails the
# run when one of the racing accesses happens in the addon: the first frame
# of an access, past the TSan interceptors, is in kernel_taint.node.
npx cmake-js compile --out build-tsan --debug --CDKT_TSAN=ON >/dev/null
tsan_log=$(mktemp)
LD_PRELOAD="$(g++ -print-file-name=libtsan.so)" TSAN_OPTIONS="halt_on_error=0 report_signal_unsafe=0 exitcode=0" \
  node test/native/exercise-watch.cjs build-tsan/Debug/kernel_taint.node >"$tsan_log" 2>&1 || { cat "$tsan_log"; exit 1; }
# The perf attribution sources on the loop thread (a child's variable; see the exercise).
LD_PRELOAD="$(g++ -print-file-name=libtsan.so)" TSAN_OPTIONS="halt_on_error=0 report_signal_unsafe=0 exitcode=0" \
  node test/native/exercise-attribution.cjs build-tsan/Debug/kernel_taint.node >>"$tsan_log" 2>&1 || { cat "$tsan_log"; exit 1; }
total=$(grep -c "WARNING: ThreadSanitizer" "$tsan_log" || true)
# One exception: both accesses are the creation of a file descriptor (open,
# socket, epoll_create1, eventfd...). TSan models an fd number as a memory
# cell; when uninstrumented Node closes a descriptor with a raw syscall (a
# Worker's event loop), the kernel hands the number out again and TSan sees
# two "writes" with no synchronisation between them. The kernel never hands
# out a number that is still open, so such a report is the tool's, not a race.
ours=$(awk '
  function decide() {
    if (n > 0 && addon[n] && !(fdonly[n] && fdcount[n] >= 2)) print n
  }
  /WARNING: ThreadSanitizer/ { decide(); n++; fdonly[n] = 1; fdcount[n] = 0 }
  /^  (Previous )?(atomic )?([Ww]rite|[Rr]ead) of size/ { access = 1; first = 1; next }
  access && /^ +#[0-9]+ / {
    if (first) {
      first = 0
      if ($0 ~ / (open|openat|open64|socket|epoll_create1?|eventfd|timerfd_create|inotify_init1?|pipe2?|dup[23]?|accept4?) \.\.\/.*libtsan\.so/ || $0 ~ / (open|openat|open64|socket|epoll_create1?|eventfd|timerfd_create|inotify_init1?|pipe2?|dup[23]?|accept4?) .*tsan_interceptors/) fdcount[n]++
      else fdonly[n] = 0
    }
    if ($0 ~ /libtsan\.so/) next
    access = 0
    if ($0 ~ /kernel_taint\.node/) addon[n] = 1
  }
  END { decide() }' "$tsan_log" | wc -l)
tail -1 "$tsan_log"
if ((ours > 0)); then cat "$tsan_log"; echo "ThreadSanitizer: $ours report(s) involve the addon" >&2; exit 1; fi
echo "ThreadSanitizer: 0 reports involve the addon ($total inside uninstrumented Node itself)"
rm -f "$tsan_log"
echo "native tests: ASan/UBSan, valgrind and TSan clean"
