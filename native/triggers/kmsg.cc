#include "kmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

namespace kt {

namespace {
// Lines the kernel prints when it sets a taint bit, or right before:
//   "Disabling lock debugging due to kernel taint" / "module verification
//   failed: ... - tainting kernel" / "loading out-of-tree module taints kernel."
//   "Oops: ..." (D), "BUG: ..." (D/B), "Machine check events logged" (M),
//   "watchdog: BUG: soft lockup" (L), "BUG: Bad page state" (B), the WARN
//   banner (W, see IsWarnBanner), and the lines of lib/kmsg-cause.ts that name
//   no taint in these words: "Adding kernel taint for vfio-noiommu group" and
//   "<comm>: Unexpected write to kernel-exclusive config offset" (U), "module
//   uses symbols ... inheriting taint." (P), "module is from the staging
//   directory, ... you have been warned." (C), "btrfs RAID5/6 is EXPERIMENTAL"
//   and "TECH PREVIEW: ..." (X).
constexpr const char* kNeedles[] = {
    "taints kernel",
    "tainting kernel",
    "Oops",
    " [#",  // die() header on kernels that do not say "Oops": "invalid opcode: 0000 [#1] SMP"
    "BUG:",
    "Machine check",
    "Machine Check",
    "soft lockup",
    "Bad page",
    "kernel taint",
    "kernel-exclusive config",
    "inheriting taint",
    "you have been warned.",
    "RAID5/6 is EXPERIMENTAL",
    "TECH PREVIEW:",
};

// The WARN banner in both formats: "WARNING: CPU: 1 PID: 42 at mm/slub.c:123
// kfree+0x1/0x2" (up to about 6.18) and "WARNING: mm/slub.c:123 at
// kfree+0x1/0x2, CPU#1: comm/42", "WARNING: at f+0x1/0x2, CPU#0: swapper/0",
// "WARNING: [cond] file:line at f+0x1/0x2 CPU#0: swapper/0" (newer kernels).
// Other "WARNING: " texts (lockdep's "WARNING: possible circular locking
// dependency detected") name no CPU and do not match. Linear: two memmem scans.
bool IsWarnBanner(const char* msg, size_t len) {
  static constexpr char kWarn[] = "WARNING: ";
  static constexpr size_t kWarnLen = sizeof kWarn - 1;
  const char* at = static_cast<const char*>(memmem(msg, len, kWarn, kWarnLen));
  if (at == nullptr) return false;
  const char* rest = at + kWarnLen;
  size_t rest_len = len - static_cast<size_t>(rest - msg);
  if (rest_len >= 5 && memcmp(rest, "CPU: ", 5) == 0) return true;
  return memmem(rest, rest_len, " CPU#", 5) != nullptr;
}
}  // namespace

bool KmsgLineSignalsTaint(const char* msg, size_t len) {
  if (IsWarnBanner(msg, len)) return true;
  for (const char* needle : kNeedles) {
    if (memmem(msg, len, needle, strlen(needle)) != nullptr) return true;
  }
  return false;
}

bool KmsgTrigger::Open(SysError* err) {
  const char* path = path_;
  int fd = RetryEintr([&] { return ::open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC); });
  if (fd < 0) {
    err->err = errno;
    err->syscall = "open";
    err->path = path;
    return false;
  }
  UniqueFd owned(fd);
  // Skip the history: only records logged from now on can announce a change.
  if (::lseek(fd, 0, SEEK_END) < 0) {
    err->err = errno;
    err->syscall = "lseek";
    err->path = path;
    return false;
  }
  fd_ = std::move(owned);
  return true;
}

bool KmsgTrigger::OnReadable(size_t /*slot*/) {
  if (!fd_.valid()) return false;
  bool reread = false;
  // One read returns one record: "prio,seq,usec,flags;message\n" followed by
  // optional " KEY=value\n" continuation lines (SUBSYSTEM=, DEVICE=...). The
  // kernel escapes newlines inside the message as \x0a, so the message is the
  // text between the first ';' and the first '\n'. Records are at most ~8 KiB
  // (CONSOLE_EXT_LOG_MAX).
  char buf[8192];
  for (;;) {
    ssize_t n = RetryEintr([&] { return ::read(fd_.get(), buf, sizeof buf); });
    if (n < 0) {
      // EPIPE: the ring buffer wrapped past our position; the kernel moved us to
      // the oldest record still there, so keep reading. A matching line may have
      // been lost: re-read to be safe.
      if (errno == EPIPE) {
        ++overruns_;
        reread = true;
        continue;
      }
      return reread;  // EAGAIN: drained (EINVAL would mean a record larger than buf)
    }
    if (n == 0) return reread;
    ++records_;
    size_t len = static_cast<size_t>(n);
    const char* semi = static_cast<const char*>(memchr(buf, ';', len));
    const char* msg = semi != nullptr ? semi + 1 : buf;
    const char* end = buf + len;
    const char* nl = static_cast<const char*>(memchr(msg, '\n', static_cast<size_t>(end - msg)));
    if (nl != nullptr) end = nl;
    size_t msg_len = static_cast<size_t>(end - msg);
    if (KmsgLineSignalsTaint(msg, msg_len)) {
      ++matches_;
      last_len_ = msg_len < kMaxLine ? msg_len : kMaxLine;
      memcpy(last_, msg, last_len_);
      Attribute();
      reread = true;
    }
  }
}

void KmsgTrigger::Describe(Attribution* out) const { out->Add("line", std::string(last_, last_len_)); }

void KmsgTrigger::Stats(std::vector<std::pair<const char*, uint64_t>>* out) const {
  out->emplace_back("kmsgRecords", records_);
  out->emplace_back("kmsgMatches", matches_);
  out->emplace_back("kmsgOverruns", overruns_);
}

}  // namespace kt
