// Reads the taint value: one pread() on a descriptor kept open for the life of
// the environment, then a strict unsigned decimal parse. Re-opening the sysctl
// on every read costs an open/close pair (~10x the pread itself).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "sys_error.h"
#include "unique_fd.h"

namespace kt {

// Parses what the kernel writes to /proc/sys/kernel/tainted: decimal digits,
// optionally followed by one newline. Rejects signs, spaces, hex, values that
// do not fit in 32 bits (no taint bit is defined at or above 32) and text
// longer than kMaxTaintText bytes (reason "long" when its first bytes are
// digits: leading zeros, which the kernel never writes; a longer file cannot
// be read whole in one pread, so it is never read as a shorter value).
constexpr size_t kMaxTaintText = 32;
bool ParseTaintText(const char* buf, size_t len, uint32_t* out, SysError* err);

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  // Opens the path without ever blocking (O_RDONLY | O_NONBLOCK | O_NOCTTY |
  // O_CLOEXEC) and keeps it only if it is a regular file: procfs and sysfs
  // files are regular files, and a FIFO, socket or device would block a read
  // forever or have side effects. Refused: a directory with EISDIR (syscall
  // "read", as fs does), anything else with reason "type" (content names the
  // type: "fifo", "socket", "character device", "block device"). Returns false
  // and fills err on failure.
  bool Open(SysError* err);
  void Close() { fd_.reset(); }
  bool is_open() const { return fd_.valid(); }

  // One pread at offset 0 plus the parse. A file outside procfs/sysfs can be
  // deleted or replaced while its descriptor is kept: for those, the path is
  // first checked to still name the open file (stat against fstat, one more
  // syscall), and re-opened when it does not, so a replaced file is read, not
  // the old inode forever. Not thread-safe: one caller at a time (the watch
  // loop holds its mutex, the addon's readers live on the JS thread).
  bool Read(uint32_t* out, SysError* err);

  // Incremented by every successful Open(): a caller that follows the file
  // (inotify) sees that the path now names another file.
  uint64_t generation() const { return generation_; }
  // The open file is on procfs or sysfs: generated on read, never torn by a
  // writer, never replaced.
  bool pseudo() const { return pseudo_; }

 private:
  bool Current() const;

  std::string path_;
  UniqueFd fd_;
  uint64_t generation_ = 0;
  bool pseudo_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace kt
