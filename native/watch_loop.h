// The watch thread: one per Node environment, shared by every watcher of that
// environment and refcounted by them (the first watch starts it, the last one
// stops and joins it). It blocks in epoll_wait on:
//   - inotify: IN_MODIFY/IN_ATTRIB on each watched file, and IN_CREATE on its
//     directory while the file is missing (so a re-created file is re-armed),
//   - the event sources (native/epoll_source.h): the kernel uevent netlink
//     socket and /dev/kmsg today; perf-event and tracepoint sources plug in
//     through the same interface without touching Run(),
//   - one timerfd: the poll backstop, counter checks and short re-read delays
//     of every watch,
//   - an eventfd to stop.
// Each wakeup does one pread per affected watch (kt::Reader on a kept fd) and
// calls JS, through one TypedThreadSafeFunction, only for watches whose value
// (or error) changed, at most one pending delivery per watch.
//
// The thread never blocks outside epoll_wait: every fd it reads is
// non-blocking, and a watched path is opened with O_NONBLOCK and refused
// unless it is a regular file (a FIFO would block open()/read() forever while
// the loop holds its mutex, deadlocking close(), other watchers and exit).
//
// Attribution (one owner): a source that knows a cause (kmsg: the log line)
// records it; a value change of a watch snapshots the latest cause of each of
// its sources that is newer than what the watch took last; the snapshot goes
// to JS with the next *reported* change: a delivery that only adds bits
// outside the watch's filter mask (or coalesced back to the value JS has) is
// not reported, and keeps the cause for the next one. The JS side only
// passes it on (lib/watch.ts).
//
// One module load, one change: load_module() sets a module's taint bits with
// separate stores (O and E from the modinfo and signature checks, P from the
// licence), and the thread may read between them. A change whose write the
// watchpoint saw the module loader make (module_load.h: the callchain) is
// held, unqueued, while the watch also has the 'tracepoint' source with
// module:module_load armed: until that loader thread's module_load report
// (fired after every taint store of the load, before the module's init runs
// and so before insmod returns), then re-read and queued once with all the
// bits, the merged watchpoint report and the module_load report; or until
// kModuleLoadHoldNs (a load that fails after tainting never fires it). Every
// other trigger's read during the hold (poll, inotify, uevent, kmsg) keeps
// it; a change that the watchpoint says another thread made, or a read error,
// ends it at once (writes not from the loader are never held). Without the
// tracepoint source, or without a watchpoint report naming the loader (its
// callchain unsymbolized: kallsyms hidden or not read yet), nothing is held:
// a load may then arrive as up to three changes, as before.
//
// Adding a source: see native/epoll_source.h.
//
// Rejected alternatives: a thread per watcher (N threads and N inotify
// instances for N watchers); Napi::AsyncWorker (bounded by UV_THREADPOOL_SIZE,
// and a watcher would hold a pool thread forever); libuv polling on the main
// loop (uv_default_loop() breaks Workers, and fs polling wakes the JS thread).
#pragma once

#include <napi.h>
#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "epoll_source.h"
#include "reader.h"
#include "sys_error.h"
#include "triggers/counters.h"
#include "triggers/inotify.h"
#include "unique_fd.h"

namespace kt {

struct PerfReport;
class WatchpointSource;
class TracepointSource;

// What can wake a read; bit order is also the precedence used to name the
// trigger when several fire in one wakeup. kUevent and kKmsg are event
// sources (EpollSource); new sources take bits above kPoll.
enum Trigger : unsigned {
  kInotify = 1u << 0,
  kUevent = 1u << 1,
  kKmsg = 1u << 2,
  kCounter = 1u << 3,
  kPoll = 1u << 4,
  kWatchpoint = 1u << 5,  // native/attribution: perf watchpoint on tainted_mask
  kTracepoint = 1u << 6,  // native/attribution: module_load / error_report_end
};

class WatchLoop {
 public:
  explicit WatchLoop(Napi::Env env);
  ~WatchLoop();
  WatchLoop(const WatchLoop&) = delete;
  WatchLoop& operator=(const WatchLoop&) = delete;

  // JS entry points, main thread only (see lib/binding.ts for the contract).
  Napi::Value Add(const Napi::CallbackInfo& info);
  Napi::Value Remove(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  // Environment teardown: stops and joins the thread, closes every fd. A safe
  // no-op when the thread is not running.
  void Shutdown();

 private:
  struct Watch;
  struct Wakeup;
  struct AddOptions;
  struct Unarmed {  // a requested trigger that could not be armed, and why
    unsigned trigger;
    SysError err;
  };
  // An event source and the loop's bookkeeping of it.
  struct Source {
    unsigned bit;
    const char* name;
    std::unique_ptr<EpollSource> impl;
    int users = 0;          // watches that armed it
    uint64_t drained = 0;   // round_ in which it was last read
    std::atomic<uint64_t> wakeups{0};
  };
  static void CallJs(Napi::Env env, Napi::Function unused, WatchLoop* self, void* data);
  using Tsfn = Napi::TypedThreadSafeFunction<WatchLoop, void, &WatchLoop::CallJs>;

  // Add(), in steps.
  static bool ParseAddOptions(const Napi::CallbackInfo& info, AddOptions* out);
  static bool ParseWatchpointTarget(const Napi::Value& v, AddOptions* out);
  bool RegisterLocked(std::unique_ptr<Watch> w, const AddOptions& o, uint32_t* value,
                      std::vector<Unarmed>* unarmed, SysError* err);
  Napi::Value AddResult(Napi::Env env, uint64_t id, uint32_t value, unsigned active,
                        const std::vector<Unarmed>& unarmed) const;

  bool Start(SysError* err);  // main thread
  void Stop();                // main thread; joins
  static void CleanupHook(void* arg);

  // Trigger bookkeeping; require mu_.
  Source* SourceOf(unsigned bit);
  unsigned ArmLocked(Watch& w, unsigned requested, const std::vector<std::string>& counter_paths,
                     std::vector<Unarmed>* unarmed);
  bool ArmSourceLocked(Source& s, SysError* err);
  void DisarmLocked(Watch& w);
  bool EnsureInotifyLocked(SysError* err);
  void FollowFileLocked(Watch& w);
  void ArmTimerLocked();

  // The loop thread, in steps (Run() holds mu_ from CollectLocked on).
  void Run();
  int Wait(struct epoll_event* events, int max);
  void CollectLocked(const struct epoll_event& ev, Wakeup* wk);
  bool CheckCountersLocked();
  unsigned TriggerFor(Watch& w, const Wakeup& wk, bool counters_changed, int64_t now);
  void ReadLateLocked();

  // One read of a watch and what follows from it; require mu_.
  void ReadLocked(Watch& w, unsigned trigger);
  bool DeferEmptyLocked(Watch& w, const SysError& err, unsigned trigger);
  bool SnapshotCausesLocked(Watch& w);
  bool AwaitWatchpointLocked(Watch& w);
  void QueueLocked(Watch& w, unsigned trigger);

  // The module-load hold (native/attribution/module_load.h): a change whose
  // write the watchpoint saw the module loader make waits, unqueued, for that
  // loader's module_load tracepoint or kModuleLoadHoldNs, so one insmod is one
  // 'change'; require mu_.
  enum class HoldStep { kQueue, kHold };
  HoldStep HoldLocked(Watch& w, bool reported, unsigned trigger);
  const PerfReport* ModuleLoadedLocked(const Watch& w);
  void ServeHoldsLocked();
  void ReleaseHoldLocked(Watch& w, const PerfReport* loaded);

  void Deliver(Napi::Env env);

  napi_env env_;

  // Loop state. The thread holds mu_ while it handles a wakeup (a few
  // preads), never while it blocks in epoll_wait or calls into Node.
  std::mutex mu_;
  std::map<uint64_t, std::unique_ptr<Watch>> watches_;
  std::vector<uint64_t> dirty_;  // watches with a pending delivery
  bool scheduled_ = false;       // a TSFN call is queued and will drain dirty_
  InotifyTrigger inotify_;
  std::vector<std::unique_ptr<Source>> sources_;  // fixed at construction
  // The two perf sources among sources_, typed (the module-load hold reads their reports).
  WatchpointSource* watchpoint_ = nullptr;
  TracepointSource* tracepoint_ = nullptr;
  size_t watchpoint_index_ = 0, tracepoint_index_ = 0;
  CounterSet counters_;
  uint64_t round_ = 0;    // wakeups of the loop thread; a watch records the one of its last read
  int64_t wake_ns_ = 0;   // CLOCK_MONOTONIC when epoll_wait returned for round_
  unsigned late_ = 0;     // sources that a change caught up on and that held a new cause
  UniqueFd epoll_, wake_, timer_;
  std::atomic<bool> stop_{false};

  // Main thread only.
  bool running_ = false;
  // How much the watch thread raises its own scheduling priority (nice), asked for at start
  // (KERNEL_TAINT_PRIORITY_BOOST, default 4) and what it got (0 without CAP_SYS_NICE).
  int boost_wanted_ = 4;
  std::atomic<int> boost_{0};
  bool hook_ = false;
  std::thread thread_;
  Tsfn tsfn_;
  int refs_ = 0;  // watchRef() count: the TSFN keeps the event loop alive while > 0
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Napi::FunctionReference> callbacks_;

  // Cumulative over the environment's life, for the idle-cost benchmark.
  struct Counters {
    std::atomic<uint64_t> wakeups{0}, inotify{0}, timer{0}, control{0};
    std::atomic<uint64_t> reads{0}, counter_reads{0}, deliveries{0}, js_calls{0};
    std::atomic<uint64_t> counter_changes{0}, threads_started{0}, deferred_empty{0};
    // Changes that waited for the watchpoint's sample, how many found it, and the time spent.
    std::atomic<uint64_t> watchpoint_waits{0}, watchpoint_waits_found{0}, watchpoint_wait_ns{0};
    // Module-load holds: started, ended by the loader's module_load, ended by the deadline, cut short
    // (another writer's change, a read error), and the time changes spent held; and loader changes first
    // read after their module_load (the whole load in one read: nothing to hold).
    std::atomic<uint64_t> holds{0}, holds_loaded{0}, holds_expired{0}, holds_cut{0}, hold_ns{0};
    std::atomic<uint64_t> loads_whole{0};
  } stats_;
  // Where the time of the last value change went (watchStats().lastChange),
  // CLOCK_MONOTONIC ns (process.hrtime.bigint()'s clock), 0 = not reached.
  // Written by the loop thread (first watch read in a round) and by Deliver;
  // read under mu_.
  struct ChangeTiming {
    uint64_t round = 0;
    int64_t sample = 0;  // the watchpoint sample of the write (perf time), 0 without one
    int64_t wake = 0;    // epoll_wait returned
    int64_t read = 0;    // the value read and found changed
    int64_t causes = 0;  // causes taken (catch-up of the sources, the watchpoint wait)
    int64_t queued = 0;  // the thread-safe call queued
    int64_t call = 0;    // Deliver started on the JS thread
    int64_t done = 0;    // every callback of that delivery returned
  } timing_;
};

}  // namespace kt
