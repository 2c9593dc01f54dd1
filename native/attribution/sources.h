// The watch loop's 'watchpoint' and 'tracepoint' triggers: EpollSource
// adapters (native/epoll_source.h) over WatchpointCore and TracepointCore
// (perf_source.h). Each gives the loop one fd (its own epoll set of per-CPU
// perf fds), re-reads the watches only when the kernel reported a write that
// changed the mask (or a tracepoint fired), and describes the latest report as
// the change's cause.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../epoll_source.h"
#include "perf_source.h"

namespace kt {

// What both adapters share: one fd, a re-read only on a new report.
template <typename Core>
class PerfEpollSource : public EpollSource {
 public:
  bool Open(SysError* err) override {
    std::string why;
    if (core_.Arm(&why)) return true;
    err->err = 0;
    err->syscall = "perf_event_open";
    err->reason = "unused";
    err->content = why;
    return false;
  }
  void Close() override { core_.Close(); }
  bool open() const override { return core_.armed(); }
  void Fds(std::vector<int>* out) const override {
    if (core_.armed()) out->push_back(core_.fd());
  }
  bool OnReadable(size_t /*slot*/) override {
    if (!core_.Drain()) return false;
    if (core_.reports() != seen_) {
      seen_ = core_.reports();
      Attribute();
    }
    return true;
  }
  bool CatchUp() override { return OnReadable(0); }

 protected:
  Core core_;
  uint64_t seen_ = 0;
};

class WatchpointSource : public PerfEpollSource<WatchpointCore> {
 public:
  void Close() override {
    core_.Close();
    core_.set_test_target(0, 0);
  }
  void Describe(Attribution* out) const override;
  void Stats(std::vector<std::pair<const char*, uint64_t>>* out) const override;
  // The newest report (the one Describe() gives), for the module-load hold.
  const PerfReport& latest() const { return core_.latest(); }
  // Test-only (watchAdd's _watchpointTarget): watch an 8-byte variable of a
  // user-space process instead of the kernel's tainted_mask. Takes effect at
  // the next Open.
  void SetTestTarget(pid_t pid, uint64_t addr, std::string probe_path, uint64_t probe_offset) {
    core_.set_test_target(pid, addr, std::move(probe_path), probe_offset);
  }
};

class TracepointSource : public PerfEpollSource<TracepointCore> {
 public:
  void Describe(Attribution* out) const override;
  void Stats(std::vector<std::pair<const char*, uint64_t>>* out) const override;
  // Whether module:module_load is armed (a partial arm may lack it).
  bool module_load_armed() const { return core_.armed() && core_.module_load_armed(); }
  // The module_load report of thread `tid` sampled at or after `since_ns`
  // (perf time), null when none arrived (yet). Drain first (CatchUp).
  const PerfReport* ModuleLoadOf(uint32_t tid, uint64_t since_ns) const;
  // Describes that report as Describe() describes the newest one.
  static void DescribeReport(const PerfReport& r, Attribution* out);
};

}  // namespace kt
