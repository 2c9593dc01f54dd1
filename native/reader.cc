#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

namespace kt {

namespace {
// The longest valid text is "4294967295\n" (11 bytes); reading a few more lets
// us tell "too long" apart from "exactly the maximum".
constexpr size_t kBufSize = 32;
}  // namespace

bool ParseTaintText(const char* buf, size_t len, uint32_t* out, SysError* err) {
  size_t end = len;
  if (end > 0 && buf[end - 1] == '\n') --end;
  auto fail = [&](const char* reason) {
    err->reason = reason;
    err->syscall = "read";
    err->content.assign(buf, len > kBufSize ? kBufSize : len);
    return false;
  };
  if (end == 0) return fail("empty");
  uint64_t v = 0;
  for (size_t i = 0; i < end; ++i) {
    unsigned char c = static_cast<unsigned char>(buf[i]);
    if (c < '0' || c > '9') return fail("invalid");
    v = v * 10 + (c - '0');
    if (v > UINT32_MAX) return fail("range");
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

bool Reader::Open(SysError* err) {
  int fd = RetryEintr([&] { return ::open(path_.c_str(), O_RDONLY | O_CLOEXEC); });
  if (fd < 0) {
    err->err = errno;
    err->syscall = "open";
    err->path = path_;
    return false;
  }
  fd_.reset(fd);
  return true;
}

bool Reader::Read(uint32_t* out, SysError* err) const {
  char buf[kBufSize];
  ssize_t n = RetryEintr([&] { return ::pread(fd_.get(), buf, sizeof buf, 0); });
  if (n < 0) {
    err->err = errno;
    err->syscall = "read";
    err->path = path_;
    return false;
  }
  if (!ParseTaintText(buf, static_cast<size_t>(n), out, err)) {
    err->path = path_;
    return false;
  }
  return true;
}

}  // namespace kt
