// /dev/kmsg: the kernel log as records. WARN(), oops, BUG(), MCEs and the module
// loader print a line when they taint the kernel, so a matching line is the
// earliest signal for the taints no other trigger sees (W, D, M, L, B...).
// The text of the last matching line is kept so that a change can name what
// preceded it (`WARNING: CPU: 1 PID: 42 at mm/slub.c:123 ...`, or on newer kernels
// `WARNING: mm/slub.c:123 at kfree+0x1/0x2, CPU#1: comm/42`).
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
  // Longest line kept, in bytes (longer ones are cut). /dev/kmsg escapes every
  // byte outside printable ASCII as \xNN, so a cut never splits a character.
  static constexpr size_t kMaxLine = 512;

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

  // The message of the last matching record (no "prio,seq,usec,flags;" prefix,
  // no " KEY=value" dictionary lines, at most kMaxLine bytes), and how many
  // matching records were seen over this object's life (across Close/Open):
  // a watch compares it with the count it saw last to know whether a newer
  // line exists. Fixed storage, so an idle drain allocates nothing. Not
  // synchronised itself: the watch loop calls everything under its mutex.
  const char* last_line() const { return last_; }
  size_t last_line_len() const { return last_len_; }
  uint64_t match_count() const { return match_count_; }

 private:
  UniqueFd fd_;
  char last_[kMaxLine] = {};
  size_t last_len_ = 0;
  uint64_t match_count_ = 0;
};

}  // namespace kt
