#include "symbols.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>

namespace kt::symbols {

namespace {

constexpr int64_t kReloadEveryNs = 1000LL * 1000 * 1000;
// A section base further than this below an address does not hold it.
constexpr uint64_t kMaxSectionSpan = 64ull << 20;

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// Process-wide, never destroyed: a helper thread may still be reading
// /proc/kallsyms when the process exits.
struct State {
  std::mutex mu;
  std::condition_variable parsed;
  std::shared_ptr<const Kallsyms> table;
  uint64_t tainted_mask = 0;
  bool parsing = false;    // text already read is being parsed
  bool reading = false;    // a re-read of /proc/kallsyms is running
  int64_t last_read = 0;   // when the last re-read started
};
State& S() {
  static State* s = new State();
  return *s;
}

// Background priority for the symbol table's read and parse: 5 nice levels below the process's main
// thread. They are started from the watch thread, whose priority may be raised (watch_loop.cc), and a
// /proc/kallsyms read is seconds of CPU under emulation: at the watch thread's priority it took the
// CPU from the JS thread delivering the very change that started the re-read.
constexpr int kBackgroundNice = 5;

void Background() {
  errno = 0;
  const int base = getpriority(PRIO_PROCESS, static_cast<id_t>(getpid()));
  if (errno != 0) return;
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), std::min(19, base + kBackgroundNice));
}

// Runs fn on a detached thread at background priority with every signal
// blocked (signals stay with Node's threads).
template <typename Fn>
bool Spawn(Fn&& fn) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  bool ok = true;
  try {
    std::thread([f = std::forward<Fn>(fn)]() mutable {
      Background();
      f();
    }).detach();
  } catch (...) {
    ok = false;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ok;
}

}  // namespace

uint64_t TaintedMask() {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.tainted_mask;
}

void Publish(std::string text, uint64_t tainted_mask) {
  State& s = S();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.tainted_mask = tainted_mask;
    if (s.parsing) return;  // a parse of an equally fresh text is running
    s.parsing = true;
  }
  auto parse = [t = std::move(text)]() {
    auto k = std::make_shared<Kallsyms>();
    k->Parse(t);
    State& st = S();
    {
      std::lock_guard<std::mutex> lock(st.mu);
      st.table = std::move(k);
      st.parsing = false;
    }
    st.parsed.notify_all();
  };
  if (!Spawn(parse)) {
    // No thread (resource limits): the text is gone with the failed start;
    // the next unknown address asks for a re-read.
    std::lock_guard<std::mutex> lock(s.mu);
    s.parsing = false;
  }
}

std::shared_ptr<const Kallsyms> Current(int wait_ms) {
  State& s = S();
  std::unique_lock<std::mutex> lock(s.mu);
  if (s.parsing && wait_ms > 0) {
    s.parsed.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return !s.parsing; });
  }
  return s.table;
}

bool Parsing() {
  State& s = S();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.parsing;
}

bool ReloadAsync() {
  State& s = S();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    const int64_t now = NowNs();
    if (s.reading || s.parsing || (s.last_read != 0 && now - s.last_read < kReloadEveryNs)) return false;
    s.reading = true;
    s.last_read = now;
  }
  bool ok = Spawn([] {
    auto k = std::make_shared<Kallsyms>();
    bool loaded = k->Load("/proc/kallsyms");
    State& st = S();
    {
      std::lock_guard<std::mutex> lock(st.mu);
      if (loaded && k->size() > 0) st.table = std::move(k);
      st.reading = false;
    }
    st.parsed.notify_all();
  });
  if (!ok) {
    std::lock_guard<std::mutex> lock(s.mu);
    s.reading = false;
  }
  return ok;
}

std::vector<ModuleSection> UnknownModuleSections(const Kallsyms* known, const std::string& sysfs_module,
                                                 const std::string& proc_modules) {
  // The loadable modules: /proc/modules lists them in one read (a module's name is its line's first
  // word); /sys/module also holds every built-in with parameters (~150 directories without sections,
  // each a failed lookup: most of the cost of naming a frame under TCG).
  std::vector<std::string> names;
  std::string list;
  if (!proc_modules.empty() && ReadFileText(proc_modules.c_str(), &list, 4u << 20)) {
    size_t at = 0;
    while (at < list.size()) {
      size_t end = list.find('\n', at);
      if (end == std::string::npos) end = list.size();
      size_t sp = list.find(' ', at);
      if (sp > at && sp < end) names.emplace_back(list, at, sp - at);
      at = end + 1;
    }
  } else if (DIR* d = opendir(sysfs_module.c_str())) {
    while (struct dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    }
    closedir(d);
  }
  std::vector<ModuleSection> out;
  for (const std::string& mod : names) {
    if (known != nullptr && known->HasModule(mod)) continue;  // its symbols are in the table
    const std::string dir = sysfs_module + "/" + mod + "/sections";
    DIR* sd = opendir(dir.c_str());
    if (sd == nullptr) continue;  // built in: no sections
    while (struct dirent* se = readdir(sd)) {
      if (std::string_view(se->d_name) == "." || std::string_view(se->d_name) == "..") continue;
      std::string text;
      if (!ReadFileText((dir + "/" + se->d_name).c_str(), &text, 64)) continue;
      uint64_t base = std::strtoull(text.c_str(), nullptr, 16);
      if (base != 0) out.push_back({base, mod, se->d_name});
    }
    closedir(sd);
  }
  return out;
}

std::string NameIn(const std::vector<ModuleSection>& sections, uint64_t addr) {
  const ModuleSection* best = nullptr;
  for (const ModuleSection& s : sections) {
    if (s.base > addr || addr - s.base >= kMaxSectionSpan) continue;
    if (best == nullptr || s.base > best->base) best = &s;
  }
  if (best == nullptr) return {};
  char off[24];
  std::snprintf(off, sizeof off, "+0x%llx", static_cast<unsigned long long>(addr - best->base));
  return best->section + off + " [" + best->module + "]";
}

std::string NameFromSections(const Kallsyms* known, uint64_t addr, const std::string& sysfs_module,
                             const std::string& proc_modules) {
  return NameIn(UnknownModuleSections(known, sysfs_module, proc_modules), addr);
}

}  // namespace kt::symbols
