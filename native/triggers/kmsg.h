// /dev/kmsg: the kernel log as records. WARN(), oops, BUG(), MCEs and the module
// loader print a line when they taint the kernel, so a matching line is the
// earliest signal for the taints no other trigger sees (W, D, M, L, B...).
// The text of the last matching line is kept so that a change can name what
// preceded it (`WARNING: CPU: 1 PID: 42 at mm/slub.c:123 ...`, or on newer kernels
// `WARNING: mm/slub.c:123 at kfree+0x1/0x2, CPU#1: comm/42`).
#pragma once

#include <cstddef>
#include <cstdint>

#include "../epoll_source.h"
#include "../sys_error.h"
#include "../unique_fd.h"

namespace kt {

// Whether the message text of one record signals a (possible) new taint.
bool KmsgLineSignalsTaint(const char* msg, size_t len);

// The kmsg source of the watch loop. It owns the kernel-log line that goes with
// a change: the last matching record's message (no "prio,seq,usec,flags;"
// prefix, no " KEY=value" continuation lines, at most kMaxLine bytes) is kept
// in fixed storage, and a watch takes it through the EpollSource attribution
// ({line: "..."}) with its next reported change. Unreadable /dev/kmsg
// (dmesg_restrict without CAP_SYSLOG, none in a container): Open() fails with
// EPERM/ENOENT and the watcher names kmsg as not armed, with the reason.
class KmsgTrigger final : public EpollSource {
 public:
  // Longest line kept, in bytes (longer ones are cut). /dev/kmsg escapes every
  // byte outside printable ASCII as \xNN, so a cut never splits a character.
  static constexpr size_t kMaxLine = 512;

  explicit KmsgTrigger(const char* path = "/dev/kmsg") : path_(path) {}

  // Opens the log (O_RDONLY | O_NONBLOCK) positioned after the existing records.
  bool Open(SysError* err) override;
  void Close() override { fd_.reset(); }
  bool open() const override { return fd_.valid(); }
  void Fds(std::vector<int>* out) const override { out->push_back(fd_.get()); }
  // Reads every queued record; re-read when one signals taint or records were
  // lost to an overrun.
  bool OnReadable(size_t slot) override;
  // A change noticed by another trigger can race with the record that
  // announced it (the kernel logs "WARNING: CPU: ..." before it sets the bit),
  // so the loop drains the log once more before it hands the line out.
  bool CatchUp() override { return OnReadable(0); }
  void Describe(Attribution* out) const override;
  void Stats(std::vector<std::pair<const char*, uint64_t>>* out) const override;

 private:
  const char* path_;
  UniqueFd fd_;
  char last_[kMaxLine] = {};
  size_t last_len_ = 0;
  uint64_t records_ = 0, matches_ = 0, overruns_ = 0;
};

}  // namespace kt
