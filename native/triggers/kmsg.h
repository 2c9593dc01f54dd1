// /dev/kmsg: the kernel log as records. WARN(), oops, BUG(), MCEs and the module
// loader print a line when they taint the kernel, so a matching line is the
// earliest signal for the taints no other trigger sees (W, D, M, L, B...).
#pragma once

#include <cstddef>
#include <cstdint>

#include "../sys_error.h"
#include "../unique_fd.h"

namespace kt {

// Whether the message text of one record signals a (possible) new taint.
bool KmsgLineSignalsTaint(const char* msg, size_t len);

class KmsgTrigger {
 public:
  // Opens path (O_RDONLY | O_NONBLOCK) positioned after the existing records.
  // Fails with EPERM when dmesg_restrict hides the log from this process.
  bool Open(const char* path, SysError* err);
  void Close() { fd_.reset(); }
  bool open() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }

  struct Drained {
    uint32_t records = 0;
    uint32_t matches = 0;
    bool overrun = false;  // EPIPE: records were overwritten before we read them
  };
  Drained Drain();

 private:
  UniqueFd fd_;
};

}  // namespace kt
