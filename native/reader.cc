#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace kt {

namespace {
constexpr long kProcSuperMagic = 0x9fa0;
constexpr long kSysfsMagic = 0x62656572;

const char* TypeName(mode_t mode) {
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISLNK(mode)) return "symbolic link";
  return "special file";
}
}  // namespace

bool ParseTaintText(const char* buf, size_t len, uint32_t* out, SysError* err) {
  auto fail = [&](const char* reason) {
    err->reason = reason;
    err->syscall = "read";
    err->content.assign(buf, len > kMaxTaintText ? kMaxTaintText : len);
    return false;
  };
  // Text longer than kMaxTaintText is refused whatever it holds, but named
  // for what its first bytes are: not digits ("invalid"), too large a number
  // ("range"), or digits that would only fit with leading zeros ("long").
  const bool too_long = len > kMaxTaintText;
  size_t end = too_long ? kMaxTaintText : len;
  if (!too_long && end > 0 && buf[end - 1] == '\n') --end;
  if (end == 0) return fail("empty");
  uint64_t v = 0;
  for (size_t i = 0; i < end; ++i) {
    unsigned char c = static_cast<unsigned char>(buf[i]);
    if (c < '0' || c > '9') return fail("invalid");
    v = v * 10 + (c - '0');
    if (v > UINT32_MAX) return fail("range");
  }
  if (too_long) return fail("long");
  *out = static_cast<uint32_t>(v);
  return true;
}

bool Reader::Open(SysError* err) {
  auto fail = [&](const char* syscall) {
    err->err = errno;
    err->syscall = syscall;
    err->path = path_;
    return false;
  };
  int fd = RetryEintr([&] { return ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC); });
  struct stat st;
  if (fd < 0) {
    // A unix socket cannot be opened at all (ENXIO): name it like the others.
    if (errno == ENXIO && ::stat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      err->reason = "type";
      err->content = TypeName(st.st_mode);
      err->syscall = "open";
      err->path = path_;
      return false;
    }
    return fail("open");
  }
  UniqueFd owned(fd);
  if (::fstat(fd, &st) != 0) return fail("fstat");
  if (S_ISDIR(st.st_mode)) {
    errno = EISDIR;
    return fail("read");
  }
  if (!S_ISREG(st.st_mode)) {
    err->reason = "type";
    err->content = TypeName(st.st_mode);
    err->syscall = "open";
    err->path = path_;
    return false;
  }
  struct statfs fs;
  pseudo_ = ::fstatfs(fd, &fs) == 0 && (fs.f_type == kProcSuperMagic || fs.f_type == kSysfsMagic);
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  fd_ = std::move(owned);
  ++generation_;
  return true;
}

bool Reader::Current() const {
  struct stat st;
  return ::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_;
}

bool Reader::Read(uint32_t* out, SysError* err) {
  if (fd_.valid() && !pseudo_ && !Current()) fd_.reset();
  if (!fd_.valid() && !Open(err)) return false;
  // One byte more than the longest accepted text tells "too long" apart.
  char buf[kMaxTaintText + 1];
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
