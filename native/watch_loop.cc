#include "watch_loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <system_error>

namespace kt {

namespace {

constexpr const char* kDefaultCounters[] = {"/sys/kernel/warn_count", "/sys/kernel/oops_count"};
constexpr const char* kKmsgPath = "/dev/kmsg";
constexpr int64_t kNsPerMs = 1000 * 1000;
constexpr int64_t kNsPerSec = 1000 * kNsPerMs;

// epoll tags name sources, not fds: a wakeup for a trigger that the main thread
// closed meanwhile (under mu_) is recognised and skipped, never read from a
// recycled fd number.
enum Tag : uint32_t { kTagWake = 1, kTagTimer, kTagInotify, kTagUevent, kTagKmsg };

struct TriggerName {
  unsigned bit;
  const char* name;
};
constexpr TriggerName kTriggerNames[] = {
    {kInotify, "inotify"}, {kUevent, "uevent"}, {kKmsg, "kmsg"}, {kCounter, "counter"}, {kPoll, "poll"},
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

bool EpollAdd(int epfd, int fd, uint32_t tag) {
  struct epoll_event ev;
  std::memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.u32 = tag;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool SameError(const SysError& a, const SysError& b) {
  return a.err == b.err && a.reason == b.reason && std::strcmp(a.syscall, b.syscall) == 0;
}

void SetError(SysError* err, const char* syscall) {
  err->err = errno;
  err->syscall = syscall;
}

}  // namespace

struct WatchLoop::Watch {
  uint64_t id = 0;
  std::string path;
  std::unique_ptr<Reader> reader;  // null while the path cannot be opened
  unsigned active = 0;             // armed triggers (Trigger bits)
  int wd = -1;                     // inotify watch, -1 when none
  int64_t interval_ns = 0;
  int64_t next_due = 0;  // CLOCK_MONOTONIC deadline of the poll/counter check, 0 = none
  std::vector<std::pair<std::string, const CounterSet::Counter*>> counters;
  uint32_t last = 0;      // last value read
  bool failing = false;   // the last read failed with last_err (reported once)
  SysError last_err;
  // The delivery waiting for the JS thread, coalesced: the latest result and
  // the trigger that first noticed a change.
  bool pending = false;
  unsigned pending_trigger = 0;
  bool pending_ok = true;
  uint32_t pending_value = 0;
  SysError pending_err;
  // kmsg: KmsgTrigger::match_count() when this watch last took a line (or was
  // armed), and the line the next value delivery carries. Kept across an error
  // delivery, so a line goes with the next value that is delivered.
  uint64_t kmsg_mark = 0;
  bool pending_has_kmsg = false;
  size_t pending_kmsg_len = 0;
  char pending_kmsg[KmsgTrigger::kMaxLine];
  uint64_t round = 0;  // WatchLoop::round_ of its last read
};

struct WatchLoop::Wakeup {
  std::vector<int> wds;   // inotify wds that saw an event
  std::vector<int> gone;  // inotify wds the kernel dropped
  unsigned global = 0;    // kUevent / kKmsg: fired for every watch that uses them
  bool timer = false;
};

WatchLoop::WatchLoop(Napi::Env env) : env_(env) {}
WatchLoop::~WatchLoop() { Shutdown(); }

// ---- JS entry points (main thread) ------------------------------------------

// watchAdd({path, triggers, interval, counterPaths?}, callback)
//   -> {id, value, triggers} | {errno, syscall, path, reason?, content?}
// callback(trigger, value | error, kmsgLine | null) on the JS thread.
Napi::Value WatchLoop::Add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto type_error = [&](const char* msg) {
    Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
    return env.Undefined();
  };
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    return type_error("watchAdd: expected (options, callback)");
  }
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value p = o.Get("path");
  if (!p.IsString()) return type_error("watchAdd: options.path must be a string");
  std::string path = p.As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) {
    return type_error("watchAdd: options.path must be a non-empty string without NUL");
  }
  Napi::Value t = o.Get("triggers");
  if (!t.IsArray()) return type_error("watchAdd: options.triggers must be an array of trigger names");
  Napi::Array names = t.As<Napi::Array>();
  unsigned requested = 0;
  for (uint32_t i = 0; i < names.Length(); ++i) {
    Napi::Value n = names.Get(i);
    unsigned bit = n.IsString() ? BitOf(n.As<Napi::String>().Utf8Value()) : 0;
    if (bit == 0) return type_error("watchAdd: unknown trigger (inotify, uevent, kmsg, counter, poll)");
    requested |= bit;
  }
  Napi::Value iv = o.Get("interval");
  double interval = iv.IsNumber() ? iv.As<Napi::Number>().DoubleValue() : -1;
  if (!(interval >= 0 && interval <= 2147483647.0)) {
    return type_error("watchAdd: options.interval must be milliseconds in 0..2147483647");
  }
  std::vector<std::string> counter_paths;
  Napi::Value cp = o.Get("counterPaths");
  if (cp.IsUndefined()) {
    counter_paths.assign(std::begin(kDefaultCounters), std::end(kDefaultCounters));
  } else if (cp.IsArray()) {
    Napi::Array a = cp.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value v = a.Get(i);
      if (!v.IsString()) return type_error("watchAdd: options.counterPaths must be strings");
      counter_paths.push_back(v.As<Napi::String>().Utf8Value());
    }
  } else {
    return type_error("watchAdd: options.counterPaths must be an array");
  }

  auto w = std::make_unique<Watch>();
  w->path = path;
  w->reader = std::make_unique<Reader>(path);
  w->interval_ns = static_cast<int64_t>(interval * kNsPerMs);
  SysError err;
  if (!w->reader->Open(&err)) return SysErrorToObject(env, err);
  if (!running_ && !Start(&err)) return SysErrorToObject(env, err);

  uint64_t id = next_id_++;
  uint32_t value = 0;
  unsigned active = 0;
  bool ok = false;
  bool empty = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    w->id = id;
    active = w->active = ArmLocked(*w, requested, counter_paths);
    // Read after arming: a write racing with watchAdd is seen by this read or
    // by a trigger, never by neither.
    ok = w->reader->Read(&value, &err);
    if (ok) {
      w->last = value;
      watches_.emplace(id, std::move(w));
      ArmTimerLocked();
    } else {
      DisarmLocked(*w);
    }
    empty = watches_.empty();
  }
  if (!ok) {
    if (empty) Stop();
    return SysErrorToObject(env, err);
  }
  callbacks_.emplace(id, Napi::Persistent(info[1].As<Napi::Function>()));

  Napi::Object result = Napi::Object::New(env);
  result.Set("id", Napi::Number::New(env, static_cast<double>(id)));
  result.Set("value", Napi::Number::New(env, value));
  Napi::Array armed = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& tn : kTriggerNames) {
    if (active & tn.bit) armed.Set(i++, Napi::String::New(env, tn.name));
  }
  result.Set("triggers", armed);
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
  auto num = [&](const char* key, uint64_t v) { o.Set(key, Napi::Number::New(env, static_cast<double>(v))); };
  size_t watches = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    watches = watches_.size();
  }
  o.Set("running", Napi::Boolean::New(env, running_));
  num("watches", watches);
  num("refs", static_cast<uint64_t>(refs_));
  num("threadsStarted", stats_.threads_started);
  num("wakeups", stats_.wakeups);
  Napi::Object by = Napi::Object::New(env);
  by.Set("inotify", Napi::Number::New(env, static_cast<double>(stats_.inotify)));
  by.Set("uevent", Napi::Number::New(env, static_cast<double>(stats_.uevent)));
  by.Set("kmsg", Napi::Number::New(env, static_cast<double>(stats_.kmsg)));
  by.Set("timer", Napi::Number::New(env, static_cast<double>(stats_.timer)));
  by.Set("control", Napi::Number::New(env, static_cast<double>(stats_.control)));
  o.Set("wakeupsBySource", by);
  num("reads", stats_.reads);
  num("counterReads", stats_.counter_reads);
  num("counterChanges", stats_.counter_changes);
  num("deliveries", stats_.deliveries);
  num("jsCalls", stats_.js_calls);
  num("ueventMessages", stats_.uevent_messages);
  num("ueventModuleAdds", stats_.uevent_module_adds);
  num("kmsgRecords", stats_.kmsg_records);
  num("kmsgMatches", stats_.kmsg_matches);
  num("kmsgOverruns", stats_.kmsg_overruns);
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
  if (!EpollAdd(epoll.get(), wake.get(), kTagWake) || !EpollAdd(epoll.get(), timer.get(), kTagTimer)) {
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
    uevent_.Close();
    kmsg_.Close();
    counters_.Clear();
    users_inotify_ = users_uevent_ = users_kmsg_ = 0;
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

bool WatchLoop::EnsureOpenLocked(unsigned trigger) {
  SysError err;
  switch (trigger) {
    case kInotify:
      if (inotify_.open()) return true;
      if (!inotify_.Open(&err)) return false;
      if (!EpollAdd(epoll_.get(), inotify_.fd(), kTagInotify)) inotify_.Close();
      return inotify_.open();
    case kUevent:
      if (uevent_.open()) return true;
      if (!uevent_.Open(&err)) return false;
      if (!EpollAdd(epoll_.get(), uevent_.fd(), kTagUevent)) uevent_.Close();
      return uevent_.open();
    case kKmsg:
      // Unreadable (dmesg_restrict without CAP_SYSLOG, no /dev/kmsg in a
      // container): skipped silently; the watcher reports its active triggers.
      if (kmsg_.open()) return true;
      if (!kmsg_.Open(kKmsgPath, &err)) return false;
      if (!EpollAdd(epoll_.get(), kmsg_.fd(), kTagKmsg)) kmsg_.Close();
      return kmsg_.open();
    default:
      return false;
  }
}

void WatchLoop::CloseIfUnusedLocked(unsigned trigger) {
  // Closing an fd removes it from the epoll set. A user-less kmsg or uevent fd
  // would wake the thread for nothing, so they do not linger.
  switch (trigger) {
    case kInotify:
      // Kept until the loop stops: an idle inotify instance never wakes us, and
      // closing one waits for an SRCU grace period (~1 ms) in the kernel.
      break;
    case kUevent:
      if (users_uevent_ == 0) uevent_.Close();
      break;
    case kKmsg:
      if (users_kmsg_ == 0) kmsg_.Close();
      break;
    default:
      break;
  }
}

unsigned WatchLoop::ArmLocked(Watch& w, unsigned requested, const std::vector<std::string>& counter_paths) {
  unsigned active = 0;
  if ((requested & kInotify) && EnsureOpenLocked(kInotify)) {
    SysError err;
    // ENOSPC (fs.inotify.max_user_watches) leaves inotify inactive for this
    // watch, which the watcher reports; the other triggers still work.
    w.wd = inotify_.Add(w.path, &err);
    if (w.wd >= 0) {
      active |= kInotify;
      ++users_inotify_;
    } else {
      CloseIfUnusedLocked(kInotify);
    }
  }
  if ((requested & kUevent) && EnsureOpenLocked(kUevent)) {
    active |= kUevent;
    ++users_uevent_;
  }
  if ((requested & kKmsg) && EnsureOpenLocked(kKmsg)) {
    active |= kKmsg;
    ++users_kmsg_;
    w.kmsg_mark = kmsg_.match_count();  // lines logged before the watch do not count
  }
  if (requested & kCounter) {
    for (const std::string& p : counter_paths) {
      if (const CounterSet::Counter* c = counters_.Add(p)) w.counters.emplace_back(p, c);
    }
    if (!w.counters.empty()) active |= kCounter;
  }
  if ((requested & kPoll) && w.interval_ns > 0) active |= kPoll;
  if ((active & (kPoll | kCounter)) && w.interval_ns > 0) w.next_due = NowNs() + w.interval_ns;
  return active;
}

void WatchLoop::DisarmLocked(Watch& w) {
  if (w.active & kInotify) {
    inotify_.Remove(w.wd);
    --users_inotify_;
    CloseIfUnusedLocked(kInotify);
  }
  w.wd = -1;
  if (w.active & kUevent) {
    --users_uevent_;
    CloseIfUnusedLocked(kUevent);
  }
  if (w.active & kKmsg) {
    --users_kmsg_;
    CloseIfUnusedLocked(kKmsg);
  }
  for (const auto& c : w.counters) counters_.Remove(c.first);
  w.counters.clear();
  w.active = 0;
  w.next_due = 0;
}

void WatchLoop::ArmTimerLocked() {
  int64_t next = 0;
  for (const auto& [id, w] : watches_) {
    if (w->next_due != 0 && (next == 0 || w->next_due < next)) next = w->next_due;
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
  struct epoll_event events[8];
  Wakeup wk;
  for (;;) {
    // Block: an idle watcher wakes only for its timer.
    int n = epoll_wait(epoll_.get(), events, 8, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EBADF/EINVAL cannot happen while running; do not spin
    }
    if (stop_.load()) return;
    ++stats_.wakeups;

    std::lock_guard<std::mutex> lock(mu_);
    wk.wds.clear();
    wk.gone.clear();
    wk.global = 0;
    wk.timer = false;
    ++round_;
    kmsg_drained_ = false;
    kmsg_late_ = false;
    for (int i = 0; i < n; ++i) {
      switch (events[i].data.u32) {
        case kTagWake: {
          uint64_t v;
          RetryEintr([&] { return ::read(wake_.get(), &v, sizeof v); });
          ++stats_.control;
          break;
        }
        case kTagTimer: {
          uint64_t expirations;
          if (RetryEintr([&] { return ::read(timer_.get(), &expirations, sizeof expirations); }) > 0) wk.timer = true;
          ++stats_.timer;
          break;
        }
        case kTagInotify:
          if (!inotify_.open()) break;
          ++stats_.inotify;
          inotify_.Drain(&wk.wds, &wk.gone);
          break;
        case kTagUevent: {
          if (!uevent_.open()) break;
          ++stats_.uevent;
          UeventTrigger::Drained d = uevent_.Drain();
          stats_.uevent_messages += d.messages;
          stats_.uevent_module_adds += d.module_adds;
          // A module "add" is the precise signal; any other uevent is a cheap
          // hint worth one pread. Both are reported as 'uevent'.
          if (d.messages > 0 || d.overrun) wk.global |= kUevent;
          break;
        }
        case kTagKmsg: {
          if (!kmsg_.open()) break;
          ++stats_.kmsg;
          if (DrainKmsgLocked()) wk.global |= kKmsg;
          break;
        }
        default:
          break;
      }
    }

    // Counters have no notification: check them on every wakeup.
    bool counters_changed = false;
    if (!counters_.empty()) {
      uint64_t reads = 0;
      counters_changed = counters_.Check(&reads);
      stats_.counter_reads += reads;
      if (counters_changed) ++stats_.counter_changes;
    }

    const bool all_inotify = std::find(wk.wds.begin(), wk.wds.end(), InotifyTrigger::kAll) != wk.wds.end();
    const int64_t now = NowNs();
    for (auto& [id, wp] : watches_) {
      Watch& w = *wp;
      unsigned trigger = 0;
      if (w.active & kInotify) {
        if (w.wd >= 0 && std::find(wk.gone.begin(), wk.gone.end(), w.wd) != wk.gone.end()) {
          w.wd = -1;  // the file was deleted or unmounted: read to report it
          trigger = kInotify;
        } else if (all_inotify || (w.wd >= 0 && std::find(wk.wds.begin(), wk.wds.end(), w.wd) != wk.wds.end())) {
          trigger = kInotify;
        }
      }
      if (trigger == 0) {
        unsigned g = w.active & wk.global;
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
      if (trigger != 0) ReadLocked(w, trigger);
    }
    if (kmsg_late_) {
      // A change made us drain /dev/kmsg and it held a matching line: the
      // kmsg watches not read in this wakeup would otherwise never hear of it
      // (the fd is no longer readable, so epoll will not report it).
      for (auto& [id, wp] : watches_) {
        if ((wp->active & kKmsg) && wp->round != round_) ReadLocked(*wp, kKmsg);
      }
    }
    if (wk.timer) ArmTimerLocked();
  }
}

bool WatchLoop::ReadFreshLocked(Watch& w, uint32_t* value, SysError* err) {
  if (w.reader) {
    // A kept fd keeps reading a file after it was deleted or replaced; a link
    // count of 0 means the path now names another file, or nothing.
    struct stat st;
    if (fstat(w.reader->fd(), &st) == 0 && st.st_nlink == 0) w.reader.reset();
  }
  if (!w.reader) {
    auto r = std::make_unique<Reader>(w.path);
    if (!r->Open(err)) return false;
    w.reader = std::move(r);
    if ((w.active & kInotify) && inotify_.open()) {
      // Follow the new inode.
      inotify_.Remove(w.wd);
      SysError ignored;
      w.wd = inotify_.Add(w.path, &ignored);
    }
  }
  return w.reader->Read(value, err);
}

// Reads every queued /dev/kmsg record (mu_ held); returns whether one of them
// signals taint, or records were lost to an overrun.
bool WatchLoop::DrainKmsgLocked() {
  kmsg_drained_ = true;
  KmsgTrigger::Drained d = kmsg_.Drain();
  stats_.kmsg_records += d.records;
  stats_.kmsg_matches += d.matches;
  if (d.overrun) ++stats_.kmsg_overruns;
  return d.matches > 0 || d.overrun;
}

// A value change of w (mu_ held): attach the latest matching kmsg line seen
// since w's previous delivery. Only on a change, so an idle wakeup costs no
// extra syscall; fixed buffers, so it allocates nothing.
void WatchLoop::TakeKmsgLocked(Watch& w) {
  if (!(w.active & kKmsg)) return;
  // A change noticed by another trigger (poll, counter, inotify) can race with
  // the record that announced it: the kernel logs "WARNING: CPU: ..." before
  // it sets the bit, but our epoll_wait may have returned before the record
  // arrived. Read what is queued now, so the line goes with this change and
  // not with a later, unrelated one.
  if (!kmsg_drained_ && kmsg_.open() && DrainKmsgLocked()) kmsg_late_ = true;
  if (kmsg_.match_count() == w.kmsg_mark) return;  // nothing new: keep what is pending
  w.kmsg_mark = kmsg_.match_count();
  w.pending_kmsg_len = kmsg_.last_line_len();
  std::memcpy(w.pending_kmsg, kmsg_.last_line(), w.pending_kmsg_len);
  w.pending_has_kmsg = true;
}

void WatchLoop::ReadLocked(Watch& w, unsigned trigger) {
  ++stats_.reads;
  w.round = round_;
  uint32_t value = 0;
  SysError err;
  if (ReadFreshLocked(w, &value, &err)) {
    // After a reported error the value goes to JS even when unchanged: it
    // says the reads work again (the watcher's 'recover').
    const bool recovered = w.failing;
    w.failing = false;
    if (value == w.last && !recovered) return;  // the common case: nothing for JS
    w.last = value;
    w.pending_ok = true;
    w.pending_value = value;
    TakeKmsgLocked(w);
  } else {
    if (w.failing && SameError(w.last_err, err)) return;  // reported already
    w.failing = true;
    w.last_err = err;
    w.pending_ok = false;
    w.pending_err = err;
  }
  QueueLocked(w, trigger);
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

void WatchLoop::Deliver(Napi::Env env) {
  struct Item {
    uint64_t id;
    unsigned trigger;
    bool ok;
    uint32_t value;
    SysError err;
    bool has_kmsg;
    std::string kmsg;  // allocated here, on the JS thread, only for a change
  };
  std::vector<Item> items;
  {
    std::lock_guard<std::mutex> lock(mu_);
    scheduled_ = false;
    for (uint64_t id : dirty_) {
      auto it = watches_.find(id);
      if (it == watches_.end() || !it->second->pending) continue;  // removed meanwhile
      Watch& w = *it->second;
      w.pending = false;
      // An error delivery leaves the line for the next value delivery.
      bool has_kmsg = w.pending_ok && w.pending_has_kmsg;
      items.push_back({id, w.pending_trigger, w.pending_ok, w.pending_value, w.pending_err, has_kmsg,
                       has_kmsg ? std::string(w.pending_kmsg, w.pending_kmsg_len) : std::string()});
      if (has_kmsg) w.pending_has_kmsg = false;
    }
    dirty_.clear();
  }
  ++stats_.js_calls;
  napi_env e = env;
  for (const Item& item : items) {
    // A callback may close any watcher, its own included: look each one up
    // right before its call.
    auto it = callbacks_.find(item.id);
    if (it == callbacks_.end()) continue;
    Napi::HandleScope scope(env);
    napi_value fn = it->second.Value();
    napi_value argv[3];
    napi_value recv;
    napi_value result;
    if (napi_create_string_utf8(e, NameOf(item.trigger), NAPI_AUTO_LENGTH, &argv[0]) != napi_ok) return;
    if (item.ok) {
      if (napi_create_uint32(e, item.value, &argv[1]) != napi_ok) return;
    } else {
      argv[1] = SysErrorToObject(env, item.err);
    }
    if (item.has_kmsg) {
      if (napi_create_string_utf8(e, item.kmsg.data(), item.kmsg.size(), &argv[2]) != napi_ok) return;
    } else if (napi_get_null(e, &argv[2]) != napi_ok) {
      return;
    }
    napi_get_undefined(e, &recv);
    ++stats_.deliveries;
    napi_status s = napi_call_function(e, recv, fn, 3, argv, &result);
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
