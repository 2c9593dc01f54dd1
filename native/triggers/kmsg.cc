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
//   "WARNING: CPU: 3 PID: ..." (W), "Oops: ..." (D), "BUG: ..." (D/B),
//   "Machine check events logged" (M), "watchdog: BUG: soft lockup" (L),
//   "BUG: Bad page state" (B).
constexpr const char* kNeedles[] = {
    "taints kernel", "tainting kernel", "WARNING: CPU:", "Oops",
    "BUG:",          "Machine check",   "soft lockup",   "Bad page",
};
}  // namespace

bool KmsgLineSignalsTaint(const char* msg, size_t len) {
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
