// The watch thread: one per Node environment, shared by every watcher of that
// environment and refcounted by them (the first watch starts it, the last one
// stops and joins it). It blocks in epoll_wait on:
//   - inotify (IN_MODIFY on each watched path),
//   - the kernel uevent netlink socket,
//   - /dev/kmsg when readable,
//   - one timerfd: the poll backstop and counter checks of every watch,
//   - an eventfd to stop.
// Each wakeup does one pread per affected watch (kt::Reader on a kept fd) and
// calls JS, through one TypedThreadSafeFunction, only for watches whose value
// (or error) changed, at most one pending delivery per watch. A value change
// of a watch with the kmsg trigger carries the last taint-signalling kernel
// log line seen since that watch's previous delivery, whichever trigger
// noticed the change.
//
// Rejected alternatives: a thread per watcher (N threads and N inotify
// instances for N watchers); Napi::AsyncWorker (bounded by UV_THREADPOOL_SIZE,
// and a watcher would hold a pool thread forever); libuv polling on the main
// loop (uv_default_loop() breaks Workers, and fs polling wakes the JS thread).
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "reader.h"
#include "sys_error.h"
#include "triggers/counters.h"
#include "triggers/inotify.h"
#include "triggers/kmsg.h"
#include "triggers/uevent.h"
#include "unique_fd.h"

namespace kt {

// What can wake a read; bit order is also the precedence used to name the
// trigger when several fire in one wakeup.
enum Trigger : unsigned {
  kInotify = 1u << 0,
  kUevent = 1u << 1,
  kKmsg = 1u << 2,
  kCounter = 1u << 3,
  kPoll = 1u << 4,
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
  static void CallJs(Napi::Env env, Napi::Function unused, WatchLoop* self, void* data);
  using Tsfn = Napi::TypedThreadSafeFunction<WatchLoop, void, &WatchLoop::CallJs>;

  bool Start(SysError* err);  // main thread
  void Stop();                // main thread; joins
  static void CleanupHook(void* arg);

  // Require mu_.
  unsigned ArmLocked(Watch& w, unsigned requested, const std::vector<std::string>& counter_paths);
  void DisarmLocked(Watch& w);
  bool EnsureOpenLocked(unsigned trigger);
  void CloseIfUnusedLocked(unsigned trigger);
  void ArmTimerLocked();
  void ReadLocked(Watch& w, unsigned trigger);
  bool ReadFreshLocked(Watch& w, uint32_t* value, SysError* err);
  void QueueLocked(Watch& w, unsigned trigger);
  bool DrainKmsgLocked();
  void TakeKmsgLocked(Watch& w);

  void Run();  // the loop thread
  void Deliver(Napi::Env env);

  napi_env env_;

  // Loop state. The thread holds mu_ while it handles a wakeup (a few
  // preads), never while it blocks in epoll_wait or calls into Node.
  std::mutex mu_;
  std::map<uint64_t, std::unique_ptr<Watch>> watches_;
  std::vector<uint64_t> dirty_;  // watches with a pending delivery
  bool scheduled_ = false;       // a TSFN call is queued and will drain dirty_
  InotifyTrigger inotify_;
  UeventTrigger uevent_;
  KmsgTrigger kmsg_;
  CounterSet counters_;
  int users_inotify_ = 0, users_uevent_ = 0, users_kmsg_ = 0;
  // Per wakeup of the loop thread: its number (a watch records the one in
  // which it was last read), whether /dev/kmsg was drained in it, and whether
  // a drain made on a change (not on a kmsg event) found a matching line.
  uint64_t round_ = 0;
  bool kmsg_drained_ = false;
  bool kmsg_late_ = false;
  UniqueFd epoll_, wake_, timer_;
  std::atomic<bool> stop_{false};

  // Main thread only.
  bool running_ = false;
  bool hook_ = false;
  std::thread thread_;
  Tsfn tsfn_;
  int refs_ = 0;  // watchRef() count: the TSFN keeps the event loop alive while > 0
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Napi::FunctionReference> callbacks_;

  // Cumulative over the environment's life, for the idle-cost benchmark.
  struct Counters {
    std::atomic<uint64_t> wakeups{0}, inotify{0}, uevent{0}, kmsg{0}, timer{0}, control{0};
    std::atomic<uint64_t> reads{0}, counter_reads{0}, deliveries{0}, js_calls{0};
    std::atomic<uint64_t> uevent_messages{0}, uevent_module_adds{0};
    std::atomic<uint64_t> kmsg_records{0}, kmsg_matches{0}, kmsg_overruns{0};
    std::atomic<uint64_t> counter_changes{0}, threads_started{0};
  } stats_;
};

}  // namespace kt
