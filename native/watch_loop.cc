#include "watch_loop.h"

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <system_error>

#include "attribution/module_load.h"
#include "attribution/sources.h"
#include "attribution/symbols.h"
#include "triggers/kmsg.h"
#include "triggers/uevent.h"

namespace kt {

namespace {

constexpr const char* kDefaultCounters[] = {"/sys/kernel/warn_count", "/sys/kernel/oops_count"};
constexpr int64_t kNsPerMs = 1000 * 1000;
constexpr int64_t kNsPerSec = 1000 * kNsPerMs;
// How long an empty regular file may stay empty before it is reported:
// `echo N > F` truncates, then writes, and a read can fall in between.
constexpr int64_t kSettleNs = 50 * kNsPerMs;
constexpr int64_t kMaxSettleNs = 1000 * kNsPerMs;
// How long a change waits for the watchpoint's sample of its write.
constexpr int64_t kWatchpointGraceNs = 3 * kNsPerMs;
// The longest a module load's change waits for the loader's module_load
// tracepoint (module_load.h). The wait normally ends there: from the first
// taint store to module_load, load_module only lays out, relocates and
// registers the module (28 ms for kt_prop on 6.1 under TCG emulation, far
// less on hardware; a driver of tens of MB relocates for tens of ms).
// The bound is only reached by a load that fails after tainting (it never
// fires module_load) or one that blocks (a symbol owner still loading: up to
// 30 s in resolve_symbol_wait), and then delays that change by this much:
// 1 s is 35 times the TCG load and well under the 5 s poll backstop that
// bounds every untriggered bit, so an alert is never later than the poll
// would make it, and a slow but successful load still arrives as one change.
constexpr int64_t kModuleLoadHoldNs = 1000 * kNsPerMs;

// epoll tags name sources, not fds: a wakeup for a source that the main thread
// closed meanwhile (under mu_) is recognised and skipped, never read from a
// recycled fd number. Layout: kind << 32 | source index << 16 | fd slot.
enum TagKind : uint64_t { kTagWake = 1, kTagTimer, kTagInotify, kTagSource };
uint64_t Tag(TagKind kind, size_t index = 0, size_t slot = 0) {
  return static_cast<uint64_t>(kind) << 32 | static_cast<uint64_t>(index) << 16 | static_cast<uint64_t>(slot);
}

struct TriggerName {
  unsigned bit;
  const char* name;
};
// Inotify, counter and poll are the loop's own; the others are sources_.
constexpr TriggerName kTriggerNames[] = {
    {kInotify, "inotify"}, {kUevent, "uevent"}, {kKmsg, "kmsg"}, {kCounter, "counter"}, {kPoll, "poll"},
    {kWatchpoint, "watchpoint"}, {kTracepoint, "tracepoint"},
};

const char* NameOf(unsigned trigger) {
  for (const auto& t : kTriggerNames) {
    if (t.bit == trigger) return t.name;
  }
  return "unknown";
}

unsigned BitOf(const std::string& name) {
  for (const auto& t : kTriggerNames) {
    if (name == t.name) return t.bit;
  }
  return 0;
}

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

bool EpollAdd(int epfd, int fd, uint64_t tag) {
  struct epoll_event ev;
  std::memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.u64 = tag;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool SameError(const SysError& a, const SysError& b) {
  return a.err == b.err && a.reason == b.reason && std::strcmp(a.syscall, b.syscall) == 0;
}

void SetError(SysError* err, const char* syscall) {
  err->err = errno;
  err->syscall = syscall;
}

std::string DirOf(const std::string& path) {
  std::string copy = path;
  return dirname(&copy[0]);
}

}  // namespace

struct WatchLoop::Watch {
  uint64_t id = 0;
  std::string path;
  std::string dir;                 // inotify'ed while the file is missing
  std::unique_ptr<Reader> reader;  // re-opens itself when the path names another file
  uint64_t reader_generation = 0;  // the Reader generation the inotify wd follows
  unsigned active = 0;             // armed triggers (Trigger bits)
  int wd = -1;                     // inotify watch of the file, -1 when none
  int dir_wd = -1;                 // inotify watch of its directory, -1 when none
  uint32_t mask = 0xffffffffu;     // the JS filter: bits whose appearance is reported
  int64_t interval_ns = 0;
  int64_t next_due = 0;  // CLOCK_MONOTONIC deadline of the poll/counter check, 0 = none
  std::vector<std::pair<std::string, const CounterSet::Counter*>> counters;
  uint32_t last = 0;      // last value read
  bool failing = false;   // the last read failed with last_err (reported once)
  SysError last_err;
  // An empty regular file: when it was first seen empty, the re-read deadline
  // and the trigger that saw it (0 when not waiting).
  int64_t empty_since = 0;
  int64_t retry_due = 0;
  unsigned retry_trigger = 0;
  // The delivery waiting for the JS thread, coalesced: the latest result and
  // the trigger that first noticed a change.
  bool pending = false;
  unsigned pending_trigger = 0;
  bool pending_ok = true;
  uint32_t pending_value = 0;
  SysError pending_err;
  uint32_t delivered = 0;         // the value JS has
  bool error_delivered = false;  // JS last heard of an error
  // Per source (index of sources_): the attribution count this watch took
  // last, and the cause that goes with its next reported change.
  struct Cause {
    uint64_t mark = 0;
    bool has = false;
    Attribution what;
  };
  std::vector<Cause> causes;
  uint64_t round = 0;  // WatchLoop::round_ of its last read
  // The module-load hold (watch_loop.h): a change of the value (w.last) that
  // waits, unqueued, for the module_load of the loader thread `tid`.
  struct Hold {
    enum State { kNone, kHeld, kReleasing } state = kNone;
    uint32_t tid = 0;         // the loader thread (the watchpoint report's)
    uint64_t since = 0;       // perf time of its first store (a module_load at or after it ends the hold)
    int64_t start = 0;        // CLOCK_MONOTONIC when the change was first held
    int64_t due = 0;          // start + kModuleLoadHoldNs
    unsigned trigger = 0;     // the trigger of the held change
  } hold;
  // Test-only (_watchpointTarget.holdAsLoader): the user-space target's
  // writes stand for loader stores whose module_load never fires, so the
  // host tests drive the hold's state machine, timer and deadline.
  bool hold_as_loader = false;
};

struct WatchLoop::Wakeup {
  std::vector<int> wds;   // inotify wds that saw an event
  std::vector<int> gone;  // inotify wds the kernel dropped
  unsigned sources = 0;   // sources that asked every watch using them to re-read
  bool timer = false;
};

struct WatchLoop::AddOptions {
  std::string path;
  unsigned requested = 0;
  int64_t interval_ns = 0;
  uint32_t mask = 0xffffffffu;
  std::vector<std::string> counter_paths;
  // Test-only (_watchpointTarget): the watchpoint on a user-space variable.
  pid_t wp_pid = 0;
  uint64_t wp_addr = 0;
  std::string wp_probe_path;
  uint64_t wp_probe_offset = 0;
  // Test-only (_watchpointTarget.holdAsLoader): treat the target's writes as
  // module-loader stores whose module_load never comes (the hold's deadline).
  bool wp_hold_as_loader = false;
};

WatchLoop::WatchLoop(Napi::Env env) : env_(env) {
  // The one list of event sources (native/epoll_source.h).
  auto add = [&](unsigned bit, const char* name, std::unique_ptr<EpollSource> impl) {
    auto s = std::make_unique<Source>();
    s->bit = bit;
    s->name = name;
    s->impl = std::move(impl);
    sources_.push_back(std::move(s));
  };
  add(kUevent, "uevent", std::make_unique<UeventTrigger>());
  add(kKmsg, "kmsg", std::make_unique<KmsgTrigger>());
  auto wp = std::make_unique<WatchpointSource>();
  auto tp = std::make_unique<TracepointSource>();
  watchpoint_ = wp.get();
  tracepoint_ = tp.get();
  add(kWatchpoint, "watchpoint", std::move(wp));
  watchpoint_index_ = sources_.size() - 1;
  add(kTracepoint, "tracepoint", std::move(tp));
  tracepoint_index_ = sources_.size() - 1;
}
WatchLoop::~WatchLoop() { Shutdown(); }

// ---- JS entry points (main thread) ------------------------------------------

// watchAdd({path, triggers, interval, mask?, counterPaths?}, callback)
//   -> {id, value, triggers, unarmed} | {errno, syscall, path, reason?, content?}
// callback(trigger, value | error, reported, causes | null) on the JS thread.
Napi::Value WatchLoop::Add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddOptions o;
  if (!ParseAddOptions(info, &o)) return env.Undefined();
  auto w = std::make_unique<Watch>();
  w->path = o.path;
  w->dir = DirOf(o.path);
  w->reader = std::make_unique<Reader>(o.path);
  w->interval_ns = o.interval_ns;
  w->mask = o.mask;
  w->causes.resize(sources_.size());
  SysError err;
  if (!w->reader->Open(&err)) return SysErrorToObject(env, err);
  if (!running_ && !Start(&err)) return SysErrorToObject(env, err);

  uint64_t id = next_id_++;
  w->id = id;
  uint32_t value = 0;
  unsigned active = 0;
  std::vector<Unarmed> unarmed;
  bool ok = false;
  bool empty = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Watch* raw = w.get();
    ok = RegisterLocked(std::move(w), o, &value, &unarmed, &err);
    if (ok) active = raw->active;
    empty = watches_.empty();
  }
  if (!ok) {
    if (empty) Stop();
    return SysErrorToObject(env, err);
  }
  callbacks_.emplace(id, Napi::Persistent(info[1].As<Napi::Function>()));
  return AddResult(env, id, value, active, unarmed);
}

// Validates watchAdd's arguments; throws a TypeError (and returns false) on
// anything malformed. lib/watch.ts validates first, with coded errors: these
// are the last line for direct callers of the binding.
bool WatchLoop::ParseAddOptions(const Napi::CallbackInfo& info, AddOptions* out) {
  Napi::Env env = info.Env();
  auto type_error = [&](const char* msg) {
    Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
    return false;
  };
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    return type_error("watchAdd: expected (options, callback)");
  }
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value p = o.Get("path");
  if (!p.IsString()) return type_error("watchAdd: options.path must be a string");
  out->path = p.As<Napi::String>().Utf8Value();
  if (out->path.empty() || out->path.find('\0') != std::string::npos) {
    return type_error("watchAdd: options.path must be a non-empty string without NUL");
  }
  Napi::Value t = o.Get("triggers");
  if (!t.IsArray()) return type_error("watchAdd: options.triggers must be an array of trigger names");
  Napi::Array names = t.As<Napi::Array>();
  for (uint32_t i = 0; i < names.Length(); ++i) {
    Napi::Value n = names.Get(i);
    unsigned bit = n.IsString() ? BitOf(n.As<Napi::String>().Utf8Value()) : 0;
    if (bit == 0) return type_error("watchAdd: unknown trigger (inotify, uevent, kmsg, counter, poll)");
    out->requested |= bit;
  }
  if (out->requested == 0) return type_error("watchAdd: options.triggers must name at least one trigger");
  Napi::Value iv = o.Get("interval");
  double interval = iv.IsNumber() ? iv.As<Napi::Number>().DoubleValue() : -1;
  if (!(interval >= 0 && interval <= 2147483647.0)) {
    return type_error("watchAdd: options.interval must be milliseconds in 0..2147483647");
  }
  out->interval_ns = static_cast<int64_t>(interval * kNsPerMs);
  Napi::Value m = o.Get("mask");
  if (!m.IsUndefined()) {
    double mask = m.IsNumber() ? m.As<Napi::Number>().DoubleValue() : -1;
    if (!(mask >= 0 && mask <= 4294967295.0) || mask != static_cast<double>(static_cast<uint32_t>(mask))) {
      return type_error("watchAdd: options.mask must be an integer in 0..2^32-1");
    }
    out->mask = static_cast<uint32_t>(mask);
  }
  Napi::Value cp = o.Get("counterPaths");
  if (cp.IsUndefined()) {
    out->counter_paths.assign(std::begin(kDefaultCounters), std::end(kDefaultCounters));
  } else if (cp.IsArray()) {
    Napi::Array a = cp.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value v = a.Get(i);
      if (!v.IsString()) return type_error("watchAdd: options.counterPaths must be strings");
      std::string path = v.As<Napi::String>().Utf8Value();
      if (path.empty() || path.find('\0') != std::string::npos) {
        return type_error("watchAdd: options.counterPaths must be non-empty strings without NUL");
      }
      out->counter_paths.push_back(std::move(path));
    }
  } else {
    return type_error("watchAdd: options.counterPaths must be an array");
  }
  return ParseWatchpointTarget(o.Get("_watchpointTarget"), out) || type_error(
      "watchAdd: _watchpointTarget must be {pid, address: '0x…' (8-byte aligned), probe?: {path, offset: '0x…'}}");
}

// Test-only: {pid, address, probe?} points the 'watchpoint' source at an
// 8-byte variable of a user-space process instead of tainted_mask.
bool WatchLoop::ParseWatchpointTarget(const Napi::Value& v, AddOptions* out) {
  if (v.IsUndefined()) return true;
  if (!v.IsObject()) return false;
  Napi::Object t = v.As<Napi::Object>();
  auto hex = [](const Napi::Value& x, uint64_t* r) {
    if (!x.IsString()) return false;
    std::string s = x.As<Napi::String>().Utf8Value();
    if (s.size() < 3 || s.size() > 18 || s.rfind("0x", 0) != 0) return false;
    char* end = nullptr;
    *r = std::strtoull(s.c_str() + 2, &end, 16);
    return end != nullptr && *end == '\0';
  };
  Napi::Value pid = t.Get("pid");
  double pd = pid.IsNumber() ? pid.As<Napi::Number>().DoubleValue() : -1;
  uint64_t addr = 0;
  if (!(pd >= 1 && pd <= 4194304) || !hex(t.Get("address"), &addr) || addr == 0 || (addr & 7) != 0) return false;
  out->wp_pid = static_cast<pid_t>(pd);
  out->wp_addr = addr;
  Napi::Value as_loader = t.Get("holdAsLoader");
  if (!as_loader.IsUndefined() && !as_loader.IsBoolean()) return false;
  out->wp_hold_as_loader = as_loader.IsBoolean() && as_loader.As<Napi::Boolean>().Value();
  Napi::Value probe = t.Get("probe");
  if (probe.IsUndefined()) return true;
  if (!probe.IsObject()) return false;
  Napi::Value path = probe.As<Napi::Object>().Get("path");
  if (!path.IsString() || !hex(probe.As<Napi::Object>().Get("offset"), &out->wp_probe_offset)) return false;
  out->wp_probe_path = path.As<Napi::String>().Utf8Value();
  return !out->wp_probe_path.empty() && out->wp_probe_path.find('\0') == std::string::npos;
}

// Arms the triggers of a new watch, reads its initial value and makes it
// live; on a failed read, disarms it again and returns the error.
bool WatchLoop::RegisterLocked(std::unique_ptr<Watch> w, const AddOptions& o, uint32_t* value,
                               std::vector<Unarmed>* unarmed, SysError* err) {
  w->hold_as_loader = o.wp_pid > 0 && o.wp_hold_as_loader;
  if (o.wp_pid > 0) {
    // Test-only target; the source forgets it when it closes.
    Source* s = SourceOf(kWatchpoint);
    if (s != nullptr && !s->impl->open()) {
      static_cast<WatchpointSource*>(s->impl.get())->SetTestTarget(o.wp_pid, o.wp_addr, o.wp_probe_path,
                                                                  o.wp_probe_offset);
    }
  }
  w->active = ArmLocked(*w, o.requested, o.counter_paths, unarmed);
  // Read after arming: a write racing with watchAdd is seen by this read or
  // by a trigger, never by neither.
  if (!w->reader->Read(value, err)) {
    DisarmLocked(*w);
    return false;
  }
  w->last = w->delivered = *value;
  w->reader_generation = w->reader->generation();
  uint64_t id = w->id;
  watches_.emplace(id, std::move(w));
  ArmTimerLocked();
  return true;
}

Napi::Value WatchLoop::AddResult(Napi::Env env, uint64_t id, uint32_t value, unsigned active,
                                 const std::vector<Unarmed>& unarmed) const {
  Napi::Object result = Napi::Object::New(env);
  result.Set("id", Napi::Number::New(env, static_cast<double>(id)));
  result.Set("value", Napi::Number::New(env, value));
  Napi::Array armed = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& tn : kTriggerNames) {
    if (active & tn.bit) armed.Set(i++, Napi::String::New(env, tn.name));
  }
  result.Set("triggers", armed);
  Napi::Array missed = Napi::Array::New(env);
  i = 0;
  for (const Unarmed& u : unarmed) {
    Napi::Object e = SysErrorToObject(env, u.err);
    e.Set("trigger", Napi::String::New(env, NameOf(u.trigger)));
    missed.Set(i++, e);
  }
  result.Set("unarmed", missed);
  return result;
}

// watchRemove(id) -> boolean. Synchronous: no callback for this watch runs
// after it returns; the last watch stops and joins the thread.
Napi::Value WatchLoop::Remove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "watchRemove: expected a watch id").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int64_t raw = info[0].As<Napi::Number>().Int64Value();
  uint64_t id = raw > 0 ? static_cast<uint64_t>(raw) : 0;
  callbacks_.erase(id);
  bool found = false;
  bool empty = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = watches_.find(id);
    if (it != watches_.end()) {
      DisarmLocked(*it->second);
      watches_.erase(it);
      found = true;
      if (running_) ArmTimerLocked();
    }
    empty = watches_.empty();
  }
  if (empty) Stop();
  return Napi::Boolean::New(env, found);
}

// watchRef() / watchUnref(): counted, so that two copies of the JS library
// (CJS and ESM in one process) sharing this addon instance compose. The TSFN
// holds the event loop open while the count is above zero.
Napi::Value WatchLoop::Ref(const Napi::CallbackInfo& info) {
  if (++refs_ == 1 && running_) tsfn_.Ref(env_);
  return info.Env().Undefined();
}

Napi::Value WatchLoop::Unref(const Napi::CallbackInfo& info) {
  if (refs_ > 0 && --refs_ == 0 && running_) tsfn_.Unref(env_);
  return info.Env().Undefined();
}

Napi::Value WatchLoop::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](Napi::Object& into, const char* key, uint64_t v) {
    into.Set(key, Napi::Number::New(env, static_cast<double>(v)));
  };
  Napi::Object by = Napi::Object::New(env);
  num(by, "inotify", stats_.inotify);
  std::vector<std::pair<const char*, uint64_t>> wakeups, extra;
  size_t watches = 0;
  ChangeTiming timing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    timing = timing_;
    watches = watches_.size();
    for (const auto& s : sources_) {
      wakeups.emplace_back(s->name, s->wakeups.load());
      s->impl->Stats(&extra);
    }
  }
  for (const auto& [key, v] : wakeups) num(by, key, v);
  num(by, "timer", stats_.timer);
  num(by, "control", stats_.control);
  o.Set("running", Napi::Boolean::New(env, running_));
  o.Set("priorityBoost", Napi::Number::New(env, boost_.load()));
  num(o, "watches", watches);
  num(o, "refs", static_cast<uint64_t>(refs_));
  num(o, "threadsStarted", stats_.threads_started);
  num(o, "wakeups", stats_.wakeups);
  num(o, "watchpointWaits", stats_.watchpoint_waits);
  num(o, "watchpointWaitsFound", stats_.watchpoint_waits_found);
  num(o, "watchpointWaitNs", stats_.watchpoint_wait_ns);
  num(o, "moduleLoadHolds", stats_.holds);
  num(o, "moduleLoadHoldsLoaded", stats_.holds_loaded);
  num(o, "moduleLoadHoldsExpired", stats_.holds_expired);
  num(o, "moduleLoadHoldsCut", stats_.holds_cut);
  num(o, "moduleLoadHoldNs", stats_.hold_ns);
  num(o, "moduleLoadsWhole", stats_.loads_whole);
  o.Set("wakeupsBySource", by);
  num(o, "reads", stats_.reads);
  num(o, "counterReads", stats_.counter_reads);
  num(o, "counterChanges", stats_.counter_changes);
  num(o, "deliveries", stats_.deliveries);
  num(o, "jsCalls", stats_.js_calls);
  num(o, "deferredEmpty", stats_.deferred_empty);
  for (const auto& [key, v] : extra) num(o, key, v);
  // The last value change, stage by stage (CLOCK_MONOTONIC ns; 0 = not reached).
  Napi::Object last = Napi::Object::New(env);
  num(last, "sampleNs", static_cast<uint64_t>(timing.sample));
  num(last, "wakeNs", static_cast<uint64_t>(timing.wake));
  num(last, "readNs", static_cast<uint64_t>(timing.read));
  num(last, "causesNs", static_cast<uint64_t>(timing.causes));
  num(last, "queuedNs", static_cast<uint64_t>(timing.queued));
  num(last, "callNs", static_cast<uint64_t>(timing.call));
  num(last, "doneNs", static_cast<uint64_t>(timing.done));
  o.Set("lastChange", last);
  // The symbol table is still being parsed: a watchpoint report now would wait for it ('ready' waits instead).
  o.Set("symbolsPending", Napi::Boolean::New(env, symbols::Parsing()));
  return o;
}

// ---- start / stop (main thread) ---------------------------------------------

bool WatchLoop::Start(SysError* err) {
  UniqueFd epoll(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return SetError(err, "epoll_create1"), false;
  UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return SetError(err, "eventfd"), false;
  UniqueFd timer(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!timer) return SetError(err, "timerfd_create"), false;
  if (!EpollAdd(epoll.get(), wake.get(), Tag(kTagWake)) || !EpollAdd(epoll.get(), timer.get(), Tag(kTagTimer))) {
    return SetError(err, "epoll_ctl"), false;
  }
  // No JS function: CallJs finds each watch's callback itself. Unlimited
  // queue, so NonBlockingCall never fails for being full (coalescing keeps at
  // most one call queued anyway).
  Tsfn tsfn = Tsfn::New(env_, "kernel-taint watch", 0, 1, this);
  if (refs_ == 0) tsfn.Unref(env_);

  epoll_ = std::move(epoll);
  wake_ = std::move(wake);
  timer_ = std::move(timer);
  stop_.store(false);
  scheduled_ = false;
  dirty_.clear();
  tsfn_ = tsfn;

  // KERNEL_TAINT_PRIORITY_BOOST=N (0-10): how much the watch thread raises its priority; read here, on
  // the JS thread (getenv is not safe beside setenv on another thread).
  boost_wanted_ = 4;
  if (const char* b = std::getenv("KERNEL_TAINT_PRIORITY_BOOST")) {
    char* end = nullptr;
    long v = std::strtol(b, &end, 10);
    if (end != b && *end == '\0' && v >= 0 && v <= 10) boost_wanted_ = static_cast<int>(v);
  }
  // The thread inherits the creator's signal mask: block everything so that
  // process signals go to Node's threads and never interrupt ours.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    thread_ = std::thread(&WatchLoop::Run, this);
  } catch (const std::system_error& e) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    err->err = e.code().value();
    err->syscall = "pthread_create";
    tsfn_.Release();
    tsfn_ = Tsfn();
    epoll_.reset();
    wake_.reset();
    timer_.reset();
    return false;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  // Named from here rather than from Run() so the name is set by the time
  // watchAdd returns (tests count threads by name in /proc/self/task).
  pthread_setname_np(thread_.native_handle(), "kernel-taint");
  running_ = true;
  ++stats_.threads_started;
  // Registered after the TSFN, so it runs before the TSFN's own hook (hooks run
  // in reverse order): the thread is joined while the TSFN is still valid.
  hook_ = napi_add_env_cleanup_hook(env_, CleanupHook, this) == napi_ok;
  return true;
}

void WatchLoop::Stop() {
  if (!running_) return;
  stop_.store(true);
  uint64_t one = 1;
  RetryEintr([&] { return ::write(wake_.get(), &one, sizeof one); });
  // We are never the loop thread here (it does not call into JS), so join.
  thread_.join();
  running_ = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, w] : watches_) DisarmLocked(*w);
    inotify_.Close();
    for (auto& src : sources_) {
      src->impl->Close();
      src->users = 0;
    }
    counters_.Clear();
    epoll_.reset();
    wake_.reset();
    timer_.reset();
  }
  // Calls still queued run (and find nothing to deliver); then the TSFN is freed.
  tsfn_.Release();
  tsfn_ = Tsfn();
  if (hook_) {
    napi_remove_env_cleanup_hook(env_, CleanupHook, this);
    hook_ = false;
  }
}

void WatchLoop::CleanupHook(void* arg) {
  auto* self = static_cast<WatchLoop*>(arg);
  self->hook_ = false;  // Node is running it: nothing to remove
  self->Shutdown();
}

void WatchLoop::Shutdown() {
  Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    watches_.clear();
    dirty_.clear();
  }
  callbacks_.clear();
}

// ---- trigger bookkeeping (mu_ held) -----------------------------------------

WatchLoop::Source* WatchLoop::SourceOf(unsigned bit) {
  for (auto& s : sources_) {
    if (s->bit == bit) return s.get();
  }
  return nullptr;
}

bool WatchLoop::EnsureInotifyLocked(SysError* err) {
  // One instance, kept until the loop stops: an idle inotify instance never
  // wakes us, and closing one waits for an SRCU grace period (~1 ms).
  if (inotify_.open()) return true;
  if (!inotify_.Open(err)) return false;
  if (!EpollAdd(epoll_.get(), inotify_.fd(), Tag(kTagInotify))) {
    SetError(err, "epoll_ctl");
    inotify_.Close();
    return false;
  }
  return true;
}

bool WatchLoop::ArmSourceLocked(Source& s, SysError* err) {
  if (s.impl->open()) return true;
  if (!s.impl->Open(err)) return false;
  std::vector<int> fds;
  s.impl->Fds(&fds);
  size_t index = 0;
  while (index < sources_.size() && sources_[index].get() != &s) ++index;
  for (size_t slot = 0; slot < fds.size(); ++slot) {
    if (!EpollAdd(epoll_.get(), fds[slot], Tag(kTagSource, index, slot))) {
      SetError(err, "epoll_ctl");
      s.impl->Close();
      return false;
    }
  }
  return true;
}

unsigned WatchLoop::ArmLocked(Watch& w, unsigned requested, const std::vector<std::string>& counter_paths,
                              std::vector<Unarmed>* unarmed) {
  unsigned active = 0;
  auto miss = [&](unsigned bit, const SysError& err) { unarmed->push_back({bit, err}); };
  if (requested & kInotify) {
    // ENOSPC (fs.inotify.max_user_watches) leaves inotify inactive for this
    // watch, which 'ready' reports; the other triggers still work.
    SysError err;
    if (EnsureInotifyLocked(&err) && (w.wd = inotify_.Add(w.path, &err)) >= 0) {
      active |= kInotify;
    } else {
      miss(kInotify, err);
    }
  }
  for (size_t i = 0; i < sources_.size(); ++i) {
    Source& s = *sources_[i];
    if (!(requested & s.bit)) continue;
    // e.g. kmsg unreadable (dmesg_restrict without CAP_SYSLOG, no /dev/kmsg in
    // a container): the watch runs without it and 'ready' says why.
    SysError err;
    if (!ArmSourceLocked(s, &err)) {
      miss(s.bit, err);
      continue;
    }
    active |= s.bit;
    ++s.users;
    w.causes[i].mark = s.impl->attribution_count();  // causes before the watch do not count
  }
  if (requested & kCounter) {
    SysError err;
    for (const std::string& p : counter_paths) {
      if (const CounterSet::Counter* c = counters_.Add(p, &err)) w.counters.emplace_back(p, c);
    }
    if (!w.counters.empty()) {
      active |= kCounter;
    } else {
      miss(kCounter, err);  // the last failure (kernels before 6.2 have no counters)
    }
  }
  if (requested & kPoll) {
    if (w.interval_ns > 0) {
      active |= kPoll;
    } else {
      SysError err;
      err.reason = "unused";
      err.content = "interval is 0";
      miss(kPoll, err);
    }
  }
  if ((active & (kPoll | kCounter)) && w.interval_ns > 0) w.next_due = NowNs() + w.interval_ns;
  return active;
}

void WatchLoop::DisarmLocked(Watch& w) {
  inotify_.Remove(w.wd);
  inotify_.Remove(w.dir_wd);
  w.wd = w.dir_wd = -1;
  for (auto& s : sources_) {
    // Closing an fd removes it from the epoll set; a user-less source would
    // wake the thread for nothing, so it does not linger.
    if ((w.active & s->bit) && --s->users == 0) s->impl->Close();
  }
  for (const auto& c : w.counters) counters_.Remove(c.first);
  w.counters.clear();
  w.active = 0;
  w.next_due = 0;
  w.retry_due = 0;
}

// Keeps a watch's inotify wds on the file its path names (mu_ held): after
// the Reader re-opened the path on a new file, follow the new inode; while the
// file is missing, watch the directory for it to come back.
void WatchLoop::FollowFileLocked(Watch& w) {
  if (!(w.active & kInotify) || !inotify_.open()) return;
  SysError ignored;
  if (w.reader->is_open()) {
    if (w.reader->generation() != w.reader_generation) {
      inotify_.Remove(w.wd);
      w.wd = inotify_.Add(w.path, &ignored);
      w.reader_generation = w.reader->generation();
    }
    if (w.dir_wd >= 0) {
      inotify_.Remove(w.dir_wd);
      w.dir_wd = -1;
    }
  } else if (w.dir_wd < 0) {
    w.dir_wd = inotify_.AddDir(w.dir, &ignored);
  }
}

void WatchLoop::ArmTimerLocked() {
  int64_t next = 0;
  auto earliest = [&](int64_t due) {
    if (due != 0 && (next == 0 || due < next)) next = due;
  };
  for (const auto& [id, w] : watches_) {
    earliest(w->next_due);
    earliest(w->retry_due);
    if (w->hold.state == Watch::Hold::kHeld) earliest(w->hold.due);
  }
  struct itimerspec its;
  std::memset(&its, 0, sizeof its);  // all zero: disarmed
  if (next != 0) {
    its.it_value.tv_sec = static_cast<time_t>(next / kNsPerSec);
    its.it_value.tv_nsec = static_cast<long>(next % kNsPerSec);
  }
  timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &its, nullptr);
}

// ---- the loop thread ----------------------------------------------------------

void WatchLoop::Run() {
  // A change is read, attributed and queued by this thread while the writer is still running (its exit,
  // a module's init): raised a little above the writer, it gets the CPU when the write wakes it, instead
  // of after the writer's time slice, which on one busy CPU made the change late by the writer's exit.
  // Like auditd's priority_boost (4 by default). Needs CAP_SYS_NICE; without it the thread keeps the
  // creator's priority. It sleeps in epoll_wait between events and coalesces storms, so the boost does
  // not let it take more CPU, only take it sooner.
  if (boost_wanted_ > 0) {
    const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
    errno = 0;
    const int nice_now = getpriority(PRIO_PROCESS, static_cast<id_t>(tid));
    const int raised = std::max(-20, nice_now - boost_wanted_);
    if (errno == 0 && setpriority(PRIO_PROCESS, static_cast<id_t>(tid), raised) == 0) boost_.store(nice_now - raised);
  }
  struct epoll_event events[8];
  Wakeup wk;
  for (;;) {
    int n = Wait(events, 8);
    if (n < 0) return;
    const int64_t woke = NowNs();
    std::lock_guard<std::mutex> lock(mu_);
    wake_ns_ = woke;
    wk.wds.clear();
    wk.gone.clear();
    wk.sources = 0;
    wk.timer = false;
    ++round_;
    late_ = 0;
    for (int i = 0; i < n; ++i) CollectLocked(events[i], &wk);
    const bool counters_changed = CheckCountersLocked();
    const int64_t now = NowNs();
    for (auto& [id, w] : watches_) {
      unsigned trigger = TriggerFor(*w, wk, counters_changed, now);
      if (trigger != 0) ReadLocked(*w, trigger);
    }
    // Before ReadLateLocked: a release's read (or the tracepoint catch-up
    // that ends a hold) may leave a source's new cause for the watches not
    // read in this wakeup.
    ServeHoldsLocked();
    ReadLateLocked();
    if (wk.timer) ArmTimerLocked();
  }
}

// Blocks until something is readable: an idle watcher wakes only for its
// timer. Returns -1 when the loop must stop.
int WatchLoop::Wait(struct epoll_event* events, int max) {
  for (;;) {
    int n = epoll_wait(epoll_.get(), events, max, -1);
    if (n < 0 && errno == EINTR) continue;
    // EBADF/EINVAL cannot happen while running; do not spin.
    if (n < 0 || stop_.load()) return -1;
    ++stats_.wakeups;
    return n;
  }
}

// Consumes one readable fd and notes in wk what it means for the watches.
void WatchLoop::CollectLocked(const struct epoll_event& ev, Wakeup* wk) {
  const uint64_t tag = ev.data.u64;
  switch (static_cast<TagKind>(tag >> 32)) {
    case kTagWake: {
      uint64_t v;
      RetryEintr([&] { return ::read(wake_.get(), &v, sizeof v); });
      ++stats_.control;
      break;
    }
    case kTagTimer: {
      uint64_t expirations;
      if (RetryEintr([&] { return ::read(timer_.get(), &expirations, sizeof expirations); }) > 0) wk->timer = true;
      ++stats_.timer;
      break;
    }
    case kTagInotify:
      if (!inotify_.open()) break;
      ++stats_.inotify;
      inotify_.Drain(&wk->wds, &wk->gone);
      break;
    case kTagSource: {
      size_t index = (tag >> 16) & 0xffff;
      if (index >= sources_.size()) break;
      Source& s = *sources_[index];
      if (!s.impl->open()) break;  // closed meanwhile
      ++s.wakeups;
      s.drained = round_;
      if (s.impl->OnReadable(tag & 0xffff)) wk->sources |= s.bit;
      break;
    }
    default:
      break;
  }
}

// Counters have no notification: check them on every wakeup.
bool WatchLoop::CheckCountersLocked() {
  if (counters_.empty()) return false;
  uint64_t reads = 0;
  bool changed = counters_.Check(&reads);
  stats_.counter_reads += reads;
  if (changed) ++stats_.counter_changes;
  return changed;
}

// The trigger that makes w re-read in this wakeup, 0 for none; also advances
// w's timer deadlines that are due.
unsigned WatchLoop::TriggerFor(Watch& w, const Wakeup& wk, bool counters_changed, int64_t now) {
  auto has = [](const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); };
  // The kernel's own report of the write names the change, even when inotify
  // saw the sysctl write in the same wakeup.
  unsigned trigger = w.active & wk.sources & (kWatchpoint | kTracepoint);
  trigger &= ~trigger + 1;
  if (trigger == 0 && (w.active & kInotify)) {
    if (w.wd >= 0 && has(wk.gone, w.wd)) {
      w.wd = -1;  // the file was deleted or unmounted: read to report it
      trigger = kInotify;
    } else if (has(wk.wds, InotifyTrigger::kAll) || (w.wd >= 0 && has(wk.wds, w.wd)) ||
               (w.dir_wd >= 0 && has(wk.wds, w.dir_wd))) {
      trigger = kInotify;
    }
  }
  if (trigger == 0) {
    unsigned g = w.active & wk.sources;
    trigger = g & (~g + 1);  // lowest bit: uevent before kmsg
  }
  if (trigger == 0 && counters_changed && (w.active & kCounter)) {
    for (const auto& c : w.counters) {
      if (c.second->changed) trigger = kCounter;
    }
  }
  if (wk.timer && w.next_due != 0) {
    // Serve deadlines that are close together in one wakeup (early by at
    // most 1/16 of the interval): many watchers, few wakeups.
    int64_t slack = std::min<int64_t>(w.interval_ns / 16, 250 * kNsPerMs);
    if (w.next_due <= now + slack) {
      w.next_due = now + w.interval_ns;
      if (trigger == 0 && (w.active & kPoll)) trigger = kPoll;
    }
  }
  if (wk.timer && w.retry_due != 0 && w.retry_due <= now && trigger == 0) trigger = w.retry_trigger;
  return trigger;
}

// A change made a source catch up and it held a new cause: the watches of
// that source not read in this wakeup would otherwise never hear of it (its
// fd is no longer readable, so epoll will not report it).
void WatchLoop::ReadLateLocked() {
  if (late_ == 0) return;
  for (auto& [id, w] : watches_) {
    unsigned g = w->active & late_;
    if (g != 0 && w->round != round_) ReadLocked(*w, g & (~g + 1));
  }
}

// ---- reads (mu_ held) -----------------------------------------------------------

void WatchLoop::ReadLocked(Watch& w, unsigned trigger) {
  ++stats_.reads;
  w.round = round_;
  uint32_t value = 0;
  SysError err;
  bool ok = w.reader->Read(&value, &err);
  FollowFileLocked(w);
  if (!ok && !w.reader->is_open() && w.dir_wd >= 0) {
    // The file is missing and its directory is now watched: a file created
    // between the failed open and the watch was not seen; look once more.
    err = SysError();
    ok = w.reader->Read(&value, &err);
    FollowFileLocked(w);
  }
  if (!ok && !(w.failing && SameError(w.last_err, err)) && DeferEmptyLocked(w, err, trigger)) return;
  w.empty_since = w.retry_due = 0;
  if (ok) {
    // After a reported error the value goes to JS even when unchanged: it
    // says the reads work again (the watcher's 'recover').
    const bool recovered = w.failing;
    const bool releasing = w.hold.state == Watch::Hold::kReleasing;
    w.failing = false;
    if (value == w.last && !recovered && !releasing) return;  // the common case: nothing for JS
    // The first change of a wakeup is timed, unless an earlier one still waits for the JS thread (this
    // one will ride along with its delivery).
    const bool timed = timing_.round != round_ && !(timing_.queued != 0 && timing_.call == 0);
    if (timed) timing_ = ChangeTiming{round_, 0, wake_ns_, NowNs()};
    w.last = value;
    w.pending_ok = true;
    w.pending_value = value;
    // The kernel's report of the write names the change even when another
    // trigger woke the thread first: a user write of U wakes inotify at once,
    // while the watchpoint's ring wakeup goes through irq_work and can come
    // later. The sample is normally in the ring already (written in the debug
    // trap, before the write(2) returned and before fsnotify ran), so the
    // catch-up below finds it; with several (emulated) CPUs it was once not
    // visible yet, so an armed watchpoint gets a short bounded wait.
    bool reported = SnapshotCausesLocked(w);
    if (!reported && !releasing && trigger != kWatchpoint && (w.active & kWatchpoint)) {
      reported = AwaitWatchpointLocked(w);
    }
    if (reported) trigger = kWatchpoint;
    if (releasing) trigger = w.hold.trigger;
    // A module load's store: wait for the rest of the load (nothing queued,
    // the timing stays open until the release).
    if (HoldLocked(w, reported, trigger) == HoldStep::kHold) return;
    if (timed) {
      timing_.causes = NowNs();
      if (reported || releasing) {  // a held load: its first store's sample
        for (const Attribution::Field& f : w.causes[watchpoint_index_].what.fields) {
          if (f.kind == Attribution::Field::kNumber && f.key == "timeNs") {
            timing_.sample = static_cast<int64_t>(f.number);
          }
        }
      }
    }
    QueueLocked(w, trigger);
    if (timed) timing_.queued = NowNs();
    return;
  } else {
    if (w.failing && SameError(w.last_err, err)) return;  // reported already
    if (w.hold.state == Watch::Hold::kHeld) {
      // The error goes to JS now; the held value follows as the 'recover'
      // (w.last has it, and the next good read differs from the error).
      ++stats_.holds_cut;
      stats_.hold_ns += static_cast<uint64_t>(NowNs() - w.hold.start);
      w.hold.state = Watch::Hold::kNone;
    }
    w.failing = true;
    w.last_err = err;
    w.pending_ok = false;
    w.pending_err = err;
  }
  QueueLocked(w, trigger);
}

// An empty regular file is what a read sees between the truncate and the
// write of `echo N > F`: not an error yet. The write's IN_MODIFY re-reads;
// each empty read before the deadline pushes it back, so only a file that
// stayed empty for kSettleNs with no event (or empty for kMaxSettleNs while
// events kept coming) is reported. procfs/sysfs files are generated, never torn.
bool WatchLoop::DeferEmptyLocked(Watch& w, const SysError& err, unsigned trigger) {
  if (err.reason == nullptr || std::strcmp(err.reason, "empty") != 0 || !w.reader->is_open() ||
      w.reader->pseudo()) {
    return false;
  }
  const int64_t now = NowNs();
  if (w.empty_since == 0) {
    w.empty_since = now;
    w.retry_trigger = trigger;
    ++stats_.deferred_empty;
  } else if (now >= w.retry_due || now - w.empty_since >= kMaxSettleNs) {
    return false;  // quiet and still empty: report it
  }
  w.retry_due = now + kSettleNs;
  ArmTimerLocked();
  return true;
}

// A change of w that the watchpoint has not reported (yet): re-drain its rings
// for at most kWatchpointGraceNs. Every store to tainted_mask traps, so this
// waits only while a sample is in flight on another CPU (or when the kernel
// dropped one). Holds mu_ meanwhile (a few ms at most).
bool WatchLoop::AwaitWatchpointLocked(Watch& w) {
  Source* s = SourceOf(kWatchpoint);
  if (s == nullptr || !s->impl->open()) return false;
  const int64_t start = NowNs();
  ++stats_.watchpoint_waits;
  bool found = false;
  while (!found && NowNs() - start < kWatchpointGraceNs) {
    struct timespec pause = {0, 100 * 1000};  // 100 us
    nanosleep(&pause, nullptr);
    s->drained = 0;  // make SnapshotCausesLocked catch it up again
    found = SnapshotCausesLocked(w);
  }
  if (found) ++stats_.watchpoint_waits_found;
  stats_.watchpoint_wait_ns += static_cast<uint64_t>(NowNs() - start);
  return found;
}

// A value change of w: take the latest cause of each of its sources that is
// newer than what w took last. Sources that were not read in this wakeup
// catch up first: a change noticed by another trigger (poll, counter,
// inotify) can race with the record that announced it.
// Returns whether the watchpoint gave w a new report (the kernel saw the write).
bool WatchLoop::SnapshotCausesLocked(Watch& w) {
  bool watchpoint = false;
  for (size_t i = 0; i < sources_.size(); ++i) {
    Source& s = *sources_[i];
    if (!(w.active & s.bit) || !s.impl->open()) continue;
    if (s.drained != round_) {
      s.drained = round_;
      if (s.impl->CatchUp()) late_ |= s.bit;
    }
    Watch::Cause& c = w.causes[i];
    if (s.impl->attribution_count() == c.mark) continue;  // nothing new: keep what is held
    c.mark = s.impl->attribution_count();
    if (s.bit == kWatchpoint && c.has && w.hold.state != Watch::Hold::kNone) {
      // A later store of the held load: one report for the whole load.
      Attribution newer;
      s.impl->Describe(&newer);
      modload::MergeWatchpointCause(&c.what, newer);
    } else {
      c.what.fields.clear();
      s.impl->Describe(&c.what);
    }
    c.has = true;
    if (s.bit == kWatchpoint) watchpoint = true;
  }
  return watchpoint;
}

// The module-load hold of one value change of w (see watch_loop.h).
// `reported`: the watchpoint gave w a new report with this change.
WatchLoop::HoldStep WatchLoop::HoldLocked(Watch& w, bool reported, unsigned trigger) {
  using Hold = Watch::Hold;
  const PerfReport* wp = reported ? &watchpoint_->latest() : nullptr;
  // The kernel named exactly one writing thread (a drain of several threads'
  // traps, writers 2, names none: its callchain is the earliest trap's).
  const bool named = wp != nullptr && wp->writers < 2;
  if (w.hold.state == Hold::kHeld) {
    // Another thread's write is never held: deliver what is held with it now.
    // A report of the loader, an ambiguous one (a WARN storm's traps beside
    // the loader's store) or none (a poll or inotify read of a store whose
    // sample it already folded in) keeps the hold, bounded by its deadline.
    if (named && wp->tid != w.hold.tid) {
      ++stats_.holds_cut;
      stats_.hold_ns += static_cast<uint64_t>(NowNs() - w.hold.start);
      w.hold.state = Hold::kNone;
      return HoldStep::kQueue;
    }
    return HoldStep::kHold;
  }
  // Not while an earlier change of w still waits for the JS thread: that delivery would carry this
  // value and its causes anyway (Deliver takes the latest), so holding would only split them.
  if (w.hold.state == Hold::kReleasing || !named || w.pending) return HoldStep::kQueue;
  if (!modload::LoaderBits(wp->bits)) return HoldStep::kQueue;
  if (!w.hold_as_loader) {
    // Without module_load there is nothing to wait for: today's behaviour.
    if (!(w.active & kTracepoint) || !tracepoint_->module_load_armed()) return HoldStep::kQueue;
    if (!modload::FromModuleLoader(wp->stack)) return HoldStep::kQueue;
  }
  w.hold.tid = wp->tid;
  w.hold.since = wp->time_ns;
  // The load may be over already (its module_load drained in this wakeup):
  // then this read has every bit; fold the samples of its later stores
  // (written before module_load, maybe after this wakeup drained the
  // watchpoint) into one report, name the module and queue.
  if (const PerfReport* found = ModuleLoadedLocked(w)) {
    const PerfReport loaded = *found;  // the catch-up below may drain the tracepoint again
    w.hold.state = Hold::kReleasing;   // SnapshotCausesLocked merges the watchpoint's reports
    sources_[watchpoint_index_]->drained = 0;
    SnapshotCausesLocked(w);
    w.hold.state = Hold::kNone;
    Watch::Cause& c = w.causes[tracepoint_index_];
    c.what.fields.clear();
    TracepointSource::DescribeReport(loaded, &c.what);
    c.has = true;
    ++stats_.loads_whole;
    return HoldStep::kQueue;
  }
  w.hold.state = Hold::kHeld;
  w.hold.start = NowNs();
  w.hold.due = w.hold.start + kModuleLoadHoldNs;
  w.hold.trigger = trigger;
  ++stats_.holds;
  ArmTimerLocked();
  return HoldStep::kHold;
}

// The module_load report of w's held loader, catching the tracepoint source
// up first when this wakeup has not drained it; null when it has not fired.
const PerfReport* WatchLoop::ModuleLoadedLocked(const Watch& w) {
  Source& s = *sources_[tracepoint_index_];
  if (!s.impl->open()) return nullptr;
  if (s.drained != round_) {
    s.drained = round_;
    if (s.impl->CatchUp()) late_ |= s.bit;
  }
  return tracepoint_->ModuleLoadOf(w.hold.tid, w.hold.since);
}

// Ends the holds whose loader reported module_load, or whose deadline passed.
void WatchLoop::ServeHoldsLocked() {
  for (auto& [id, w] : watches_) {
    if (w->hold.state != Watch::Hold::kHeld) continue;
    const PerfReport* loaded = ModuleLoadedLocked(*w);
    if (loaded != nullptr) {
      ++stats_.holds_loaded;
    } else if (NowNs() >= w->hold.due) {
      ++stats_.holds_expired;
    } else {
      continue;
    }
    ReleaseHoldLocked(*w, loaded);
  }
}

// Queues w's held change: one more read (every store of the load precedes its
// module_load, and their watchpoint samples were written in the trap, before
// it), the watchpoint's late samples folded in, and the module_load report as
// the tracepoint's cause. `loaded` is null when the deadline ended the hold.
void WatchLoop::ReleaseHoldLocked(Watch& w, const PerfReport* loaded) {
  PerfReport load;
  if (loaded != nullptr) load = *loaded;  // the read below may drain the source again
  stats_.hold_ns += static_cast<uint64_t>(NowNs() - w.hold.start);
  w.hold.state = Watch::Hold::kReleasing;
  sources_[watchpoint_index_]->drained = 0;  // catch the watchpoint up in the read
  timing_.round = 0;                         // time the delivery from this read
  ReadLocked(w, w.hold.trigger);
  w.hold.state = Watch::Hold::kNone;
  if (loaded != nullptr && w.pending) {
    Watch::Cause& c = w.causes[tracepoint_index_];
    c.what.fields.clear();
    TracepointSource::DescribeReport(load, &c.what);
    c.has = true;
  }
}

void WatchLoop::QueueLocked(Watch& w, unsigned trigger) {
  if (!w.pending) {
    w.pending = true;
    w.pending_trigger = trigger;
    dirty_.push_back(w.id);
  }
  if (!scheduled_) {
    // napi_closing: the environment is being torn down and nobody is left to
    // tell; a normal outcome, not an error.
    scheduled_ = tsfn_.NonBlockingCall() == napi_ok;
  }
}

// ---- delivery (main thread) ---------------------------------------------------

void WatchLoop::CallJs(Napi::Env env, Napi::Function /*unused*/, WatchLoop* self, void* /*data*/) {
  // env is null when the TSFN is torn down with this call still queued. The
  // call carries no data, so there is nothing to free and no one to call.
  if (env == nullptr || self == nullptr) return;
  // Never let a C++ exception out of here (node-addon-api throws Napi::Error
  // when a call fails, e.g. while a Worker terminates).
  try {
    self->Deliver(env);
  } catch (...) {
  }
}

namespace {

void JsonString(std::string_view text, std::string* out) {
  out->push_back('"');
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out->append(buf);
    } else {
      out->push_back(ch);  // UTF-8 as is; N-API turns invalid sequences into U+FFFD, as before
    }
  }
  out->push_back('"');
}

void JsonNumber(double v, std::string* out) {
  char buf[32];
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  // Integral values (pids, times, counts) exactly, without an exponent.
  if (v == std::floor(v) && std::fabs(v) < 1e21) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  out->append(buf);
}

}  // namespace

// The causes of one delivery as JSON text (see Deliver).
void CausesJson(const std::vector<std::pair<const char*, Attribution>>& causes, std::string* out) {
  out->push_back('{');
  bool first_source = true;
  for (const auto& [name, what] : causes) {
    if (!first_source) out->push_back(',');
    first_source = false;
    JsonString(name, out);
    out->append(":{");
    bool first = true;
    for (const Attribution::Field& f : what.fields) {
      if (!first) out->push_back(',');
      first = false;
      JsonString(f.key, out);
      out->push_back(':');
      if (f.kind == Attribution::Field::kNumber) {
        JsonNumber(f.number, out);
      } else if (f.kind == Attribution::Field::kList) {
        out->push_back('[');
        for (size_t i = 0; i < f.list.size(); ++i) {
          if (i > 0) out->push_back(',');
          JsonString(f.list[i], out);
        }
        out->push_back(']');
      } else {
        JsonString(f.text, out);
      }
    }
    out->push_back('}');
  }
  out->push_back('}');
}

void WatchLoop::Deliver(Napi::Env env) {
  struct Item {
    uint64_t id;
    unsigned trigger;
    bool ok;
    bool reported;  // a value change that JS reports as a 'change'
    uint32_t value;
    SysError err;
    // (source name, cause): built here, on the JS thread, only for a change.
    std::vector<std::pair<const char*, Attribution>> causes;
  };
  std::vector<Item> items;
  const int64_t called = NowNs();
  bool timed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    scheduled_ = false;
    if (timing_.queued != 0 && timing_.call == 0) {
      timing_.call = called;
      timed = true;
    }
    for (uint64_t id : dirty_) {
      auto it = watches_.find(id);
      if (it == watches_.end() || !it->second->pending) continue;  // removed meanwhile
      Watch& w = *it->second;
      w.pending = false;
      Item item{id, w.pending_trigger, w.pending_ok, false, w.pending_value, w.pending_err, {}};
      if (w.pending_ok) {
        // Coalesced back to what JS has: nothing to say, unless JS last heard
        // of an error (then the value says the reads work again).
        if (w.pending_value == w.delivered && !w.error_delivered) continue;
        w.error_delivered = false;
        // Reported when bits inside the filter appeared or any bit dropped;
        // otherwise JS only updates its current value, and the causes wait
        // for the next reported change.
        uint32_t added = w.pending_value & ~w.delivered & w.mask;
        uint32_t dropped = w.delivered & ~w.pending_value;
        item.reported = (added | dropped) != 0;
        w.delivered = w.pending_value;
        if (item.reported) {
          for (size_t i = 0; i < sources_.size(); ++i) {
            Watch::Cause& c = w.causes[i];
            if (!c.has) continue;
            item.causes.emplace_back(sources_[i]->name, std::move(c.what));
            c.what = Attribution();
            c.has = false;
          }
        }
      } else {
        w.error_delivered = true;
      }
      items.push_back(std::move(item));
    }
    dirty_.clear();
  }
  // Stamps the end of this delivery on every way out (a callback may throw or close).
  struct DoneStamp {
    WatchLoop* self;
    bool on;
    ~DoneStamp() {
      if (!on) return;
      std::lock_guard<std::mutex> lock(self->mu_);
      self->timing_.done = NowNs();
    }
  } done_stamp{this, timed};
  ++stats_.js_calls;
  napi_env e = env;
  for (const Item& item : items) {
    // A callback may close any watcher, its own included: look each one up
    // right before its call.
    auto it = callbacks_.find(item.id);
    if (it == callbacks_.end()) continue;
    Napi::HandleScope scope(env);
    napi_value fn = it->second.Value();
    napi_value argv[4];
    napi_value recv;
    napi_value result;
    if (napi_create_string_utf8(e, NameOf(item.trigger), NAPI_AUTO_LENGTH, &argv[0]) != napi_ok) return;
    if (item.ok) {
      if (napi_create_uint32(e, item.value, &argv[1]) != napi_ok) return;
    } else {
      argv[1] = SysErrorToObject(env, item.err);
    }
    if (napi_get_boolean(e, item.reported, &argv[2]) != napi_ok) return;
    if (item.causes.empty()) {
      if (napi_get_null(e, &argv[3]) != napi_ok) return;
    } else {
      // {"kmsg":{"line":"..."},"<source>":{"<field>":string|number|[string]}} as one JSON text: one string
      // for N-API to make, which JS parses with V8's own parser, instead of an N-API call per field.
      std::string json;
      CausesJson(item.causes, &json);
      if (napi_create_string_utf8(e, json.data(), json.size(), &argv[3]) != napi_ok) return;
    }
    napi_get_undefined(e, &recv);
    ++stats_.deliveries;
    napi_status s = napi_call_function(e, recv, fn, 4, argv, &result);
    if (s == napi_pending_exception) {
      bool pending = false;
      napi_is_exception_pending(e, &pending);
      // No exception but the call failed: the environment is shutting down
      // (worker.terminate()). Stop delivering.
      if (!pending) return;
      // The listener threw: make it an uncaught exception, as for any Node
      // callback (left pending, Node would only print a DEP0168 warning).
      napi_value exc;
      if (napi_get_and_clear_last_exception(e, &exc) == napi_ok) napi_fatal_exception(e, exc);
    } else if (s != napi_ok) {
      return;
    }
  }
}

}  // namespace kt
