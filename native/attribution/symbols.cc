#include "symbols.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

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

// Runs fn on a detached thread with every signal blocked (signals stay with
// Node's threads).
template <typename Fn>
bool Spawn(Fn&& fn) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  bool ok = true;
  try {
    std::thread(std::forward<Fn>(fn)).detach();
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

std::string NameFromSections(const Kallsyms* known, uint64_t addr, const std::string& sysfs_module) {
  DIR* d = opendir(sysfs_module.c_str());
  if (d == nullptr) return {};
  std::string best_module, best_section;
  uint64_t best = 0;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string_view mod(e->d_name);
    if (known != nullptr && known->HasModule(mod)) continue;  // its symbols are in the table
    const std::string dir = sysfs_module + "/" + e->d_name + "/sections";
    DIR* sd = opendir(dir.c_str());
    if (sd == nullptr) continue;  // built in: no sections
    while (struct dirent* se = readdir(sd)) {
      if (std::string_view(se->d_name) == "." || std::string_view(se->d_name) == "..") continue;
      std::string text;
      if (!ReadFileText((dir + "/" + se->d_name).c_str(), &text, 64)) continue;
      uint64_t base = std::strtoull(text.c_str(), nullptr, 16);
      if (base == 0 || base > addr || addr - base >= kMaxSectionSpan || base <= best) continue;
      best = base;
      best_module = e->d_name;
      best_section = se->d_name;
    }
    closedir(sd);
  }
  closedir(d);
  if (best == 0) return {};
  char off[24];
  std::snprintf(off, sizeof off, "+0x%llx", static_cast<unsigned long long>(addr - best));
  return best_section + off + " [" + best_module + "]";
}

}  // namespace kt::symbols
