// Reads the taint value: one pread() on a descriptor kept open for the life of
// the environment, then a strict unsigned decimal parse. Re-opening the sysctl
// on every read costs an open/close pair (~10x the pread itself).
#pragma once

#include <cstdint>
#include <string>

#include "sys_error.h"
#include "unique_fd.h"

namespace kt {

// Parses what the kernel writes to /proc/sys/kernel/tainted: decimal digits,
// optionally followed by one newline. Rejects signs, spaces, hex and values
// that do not fit in 32 bits (no taint bit is defined at or above 32).
bool ParseTaintText(const char* buf, size_t len, uint32_t* out, SysError* err);

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  // Opens the file (O_RDONLY | O_CLOEXEC). Returns false and fills err on failure.
  bool Open(SysError* err);
  // One pread at offset 0 plus the parse. Thread-safe for concurrent callers
  // (pread has no shared file offset).
  bool Read(uint32_t* out, SysError* err) const;

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }

 private:
  std::string path_;
  UniqueFd fd_;
};

}  // namespace kt
