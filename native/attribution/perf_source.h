// Kernel attribution sources for the watch thread: fd-scoped perf events that
// report who wrote the taint mask (nothing global is created: no tracefs
// writes, no BPF; closing the fds removes everything).
//   - watchpoint: a hardware data watchpoint (PERF_TYPE_BREAKPOINT, write,
//     8 bytes) on `tainted_mask` on every online CPU. Each sample is one write,
//     in the writer's context: pid/tid, CPU, time and the kernel callchain.
//   - tracepoint: module:module_load (module name and taint bits, in the
//     loader's context) and error_report:error_report_end (WARN caller).
// Each source keeps its per-CPU fds (and a uevent socket for CPU hotplug) in
// an epoll set of its own and gives the watch loop that one fd: CPUs that come
// and go change nothing in the loop. Samples that did not change the mask (a
// WARN storm on an already-set W) are counted and dropped here, so they cost
// the watch thread one ring read each and JS nothing.
// Not synchronised: the watch loop calls everything under its mutex.
#pragma once

#include <linux/perf_event.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../unique_fd.h"
#include "kallsyms.h"
#include "perf_ring.h"
#include "tracefs.h"

namespace kt {

// What the kernel reported about one write (or one tracepoint hit).
struct PerfReport {
  enum Via { kWatchpoint = 0, kTracepoint = 1 };
  Via via = kWatchpoint;
  uint32_t pid = 0, tid = 0, cpu = 0;
  uint64_t time_ns = 0;     // CLOCK_MONOTONIC ns (use_clockid)
  std::string comm, exe;    // from /proc/<tid> at drain time; empty when gone or unreadable
  int64_t uid = -1;
  std::vector<std::string> stack;  // symbolized kernel callchain (watchpoint)
  std::string site;                // first frame outside taint/WARN/trap machinery
  uint32_t before = 0, after = 0;  // the mask around the write (watchpoint)
  uint32_t bits = 0;               // added bits (watchpoint), module taints, or W / B (error report)
  uint64_t samples = 1;            // traps folded into this report
  uint32_t writers = 1;            // distinct threads among those traps, capped at 2 (2: the writer is ambiguous)
  std::string event;               // tracepoint: "module_load" | "error_report_end"
  std::string module;              // module_load: the module's name
  int32_t detector = -1;           // error_report_end: 0 kfence, 1 kasan, 2 warning
};

// One perf event opened on a set of CPUs (or on one task), each with its ring.
class PerfEvents {
 public:
  struct Ring {
    int cpu = -1;
    UniqueFd fd;
    void* base = nullptr;
    size_t len = 0;
  };
  PerfEvents() = default;
  PerfEvents(const PerfEvents&) = delete;
  PerfEvents& operator=(const PerfEvents&) = delete;
  ~PerfEvents() { Close(); }

  // Opens attr (disabled) on each cpu of `cpus` with pid -1, or on `pid` with
  // cpu -1 when pid > 0, maps 1 + 2^n pages each, then enables them all:
  // true only once PERF_EVENT_IOC_ENABLE returned 0 on every one. errno of
  // the failure in *err; nothing stays open then.
  bool Open(const perf_event_attr& attr, pid_t pid, const std::vector<int>& cpus, int* err);
  // Opens and enables one more CPU (hotplug).
  bool OpenCpu(int cpu, int* err);
  void CloseCpu(int cpu);
  void Close();
  bool Has(int cpu) const;
  std::vector<Ring>& rings() { return rings_; }
  bool open() const { return !rings_.empty(); }
  const perf_event_attr& attr() const { return attr_; }

  // Reads every ring's new records; fn(const perf::Sample&) for each sample.
  template <typename Fn>
  void Drain(uint64_t* lost, uint64_t* malformed, Fn&& fn);
  // The same, also passing each PERF_RECORD_COMM (pid, tid, comm) to on_comm.
  template <typename Fn, typename CommFn>
  void Drain(uint64_t* lost, uint64_t* malformed, Fn&& fn, CommFn&& on_comm);

 private:
  bool OpenOne(int cpu, int* err);
  perf_event_attr attr_{};
  pid_t pid_ = -1;
  std::vector<Ring> rings_;
  perf::Sample sample_;
  std::string comm_;
};

// What both sources share: the epoll set of their per-CPU fds, CPU hotplug,
// kallsyms, naming the process of a sample, and counters.
class PerfSourceBase {
 public:
  struct Stats {
    uint64_t samples = 0, coalesced = 0, lost = 0, malformed = 0, reports = 0, reloads = 0, drains = 0;
    uint64_t drain_ns = 0, rearms = 0;
    // Of drain_ns: the watch thread's CPU time, and the wall time of naming the writer (/proc) and its stack.
    uint64_t drain_cpu_ns = 0, fill_ns = 0, symbolize_ns = 0;
  };
  PerfSourceBase() = default;
  PerfSourceBase(const PerfSourceBase&) = delete;
  PerfSourceBase& operator=(const PerfSourceBase&) = delete;
  virtual ~PerfSourceBase() = default;

  int fd() const { return epoll_.get(); }
  bool armed() const { return armed_; }
  const Stats& stats() const { return stats_; }
  // The newest report and how many reports were made over this object's life.
  const PerfReport& latest() const { return latest_; }
  uint64_t reports() const { return stats_.reports; }
  int cpus() const { return cpus_; }

  // Reads what is queued; true when a report was made (the mask changed, or
  // a tracepoint fired), so the watches should re-read.
  bool Drain();
  void Close();

  static std::vector<int> ParseCpuList(const std::string& text);

 protected:
  // Creates the epoll set and the hotplug socket, reads the online CPUs.
  bool OpenBase(std::string* reason);
  // Puts every ring of ev into the epoll set.
  bool Watch(PerfEvents* ev, std::string* reason);
  virtual std::vector<PerfEvents*> events() = 0;
  virtual bool DrainEvents() = 0;
  void Symbolize(const std::vector<uint64_t>& chain, PerfReport* r, size_t max_frames);
  static void FillProcess(PerfReport* r);
  void Report(PerfReport r);
  // Re-opens the events after CPU hotplug; `came`: CPUs announced online since the last check.
  void CheckCpus(const std::vector<int>& came);

  UniqueFd epoll_, hotplug_;
  std::vector<int> online_;
  // Names of addresses no symbol of the table covered (module frames named
  // from /sys/module sections), for the table they were made with: a WARN
  // storm in a new module scans sysfs once, not once per WARN.
  std::shared_ptr<const Kallsyms> named_with_;
  std::unordered_map<uint64_t, std::string> section_names_;
  bool armed_ = false;
  int cpus_ = 0;
  PerfReport latest_;
  Stats stats_;
};

// The hardware data watchpoint on tainted_mask (or, for tests, on an 8-byte
// user-space variable of one process).
// The index of the earliest trap whose callchain passes through the WARN machinery (__warn,
// report_bug, ...: the store of a WARN's W), -1 when none does.
int EarliestWarnTrap(const Kallsyms& syms, const std::vector<perf::Sample>& traps);

class WatchpointCore : public PerfSourceBase {
 public:
  // Arms on every online CPU; false with a plain-words reason
  // ("watchpoint: needs CAP_SYS_ADMIN") when it cannot.
  bool Arm(std::string* reason);
  // Test-only: watch `addr` in process `pid` instead: with a hardware
  // breakpoint (exclude_kernel), or, when probe_path is set, with a uretprobe
  // on the function at probe_offset of that file that stores to addr (for
  // hosts whose hypervisor does not deliver debug traps). Same ring, epoll,
  // drain and delivery path; only the perf_event_attr differs.
  void set_test_target(pid_t pid, uint64_t addr, std::string probe_path = {}, uint64_t probe_offset = 0) {
    test_pid_ = pid;
    test_addr_ = addr;
    test_probe_path_ = std::move(probe_path);
    test_probe_offset_ = probe_offset;
  }
  bool has_test_target() const { return test_pid_ > 0; }

 private:
  std::vector<PerfEvents*> events() override { return {&wp_}; }
  bool DrainEvents() override;
  bool ReadMask(uint32_t* mask);
  PerfEvents wp_;
  UniqueFd mask_fd_;
  uint32_t mask_ = 0;
  pid_t test_pid_ = 0;
  uint64_t test_addr_ = 0;
  std::string test_probe_path_;
  uint64_t test_probe_offset_ = 0;
  perf::Sample first_;
  // Names from PERF_RECORD_COMM (exec, prctl) by tid: a writer that exited
  // before the drain read /proc is still named. Bounded: cleared when full.
  std::unordered_map<uint32_t, std::string> comms_;
};

// module:module_load and error_report:error_report_end.
class TracepointCore : public PerfSourceBase {
 public:
  // Arms what exists; false with a reason when neither could be armed. A
  // partial arm leaves a note in *reason.
  bool Arm(std::string* reason);
  bool module_load_armed() const { return module_load_.open(); }
  // The last module_load reports, oldest first (at most kKeptModuleLoads): the
  // watch loop's module-load hold looks for its loader's report there, which
  // an error_report_end hit or another loader's module_load right after it
  // would hide from latest().
  static constexpr size_t kKeptModuleLoads = 8;
  const std::vector<PerfReport>& module_loads() const { return module_loads_; }

 private:
  std::vector<PerfEvents*> events() override { return {&module_load_, &error_report_}; }
  bool DrainEvents() override;
  bool OnSample(const perf::Sample& s, bool module_load);
  PerfEvents module_load_, error_report_;
  TraceFormat module_load_fmt_, error_report_fmt_;
  std::vector<PerfReport> module_loads_;
};

template <typename Fn>
void PerfEvents::Drain(uint64_t* lost, uint64_t* malformed, Fn&& fn) {
  Drain(lost, malformed, std::forward<Fn>(fn), [](uint32_t, uint32_t, const std::string&) {});
}

template <typename Fn, typename CommFn>
void PerfEvents::Drain(uint64_t* lost, uint64_t* malformed, Fn&& fn, CommFn&& on_comm) {
  for (Ring& r : rings_) {
    auto* mp = static_cast<perf_event_mmap_page*>(r.base);
    const uint64_t head = __atomic_load_n(&mp->data_head, __ATOMIC_ACQUIRE);
    const uint64_t tail = mp->data_tail;
    if (head == tail) continue;
    const uint8_t* data = static_cast<const uint8_t*>(r.base) + mp->data_offset;
    perf::DrainResult d = perf::DrainRing(data, mp->data_size, head, tail, [&](const perf::Record& rec) {
      if (rec.type == perf::kRecordSample) {
        if (perf::ParseSample(rec.body.data(), rec.body.size(), attr_.sample_type, &sample_)) {
          fn(static_cast<const perf::Sample&>(sample_));
        } else {
          ++*malformed;
        }
      } else if (rec.type == perf::kRecordLost) {
        uint64_t n = 0;
        if (perf::ParseLost(rec.body.data(), rec.body.size(), &n)) *lost += n;
      } else if (rec.type == perf::kRecordComm) {
        uint32_t pid = 0, tid = 0;
        if (perf::ParseComm(rec.body.data(), rec.body.size(), &pid, &tid, &comm_)) on_comm(pid, tid, comm_);
      }
    });
    if (d.malformed) ++*malformed;
    __atomic_store_n(&mp->data_tail, d.tail, __ATOMIC_RELEASE);
  }
}

}  // namespace kt
