#include "perf_source.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/hw_breakpoint.h>
#include <sys/ioctl.h>
#include <linux/netlink.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "module_load.h"
#include "symbols.h"

namespace kt {

namespace {

constexpr size_t kDataPages = 8;  // 1 + 2^3 pages per ring: ~300 samples with a 12-frame callchain
constexpr size_t kMaxStack = 16;
constexpr uint32_t kBitW = 1u << 9;
constexpr uint32_t kBitB = 1u << 5;
// How long a report waits for the parse of a table already read (only right
// after the first arm; never for a read of /proc/kallsyms).
constexpr int kParseWaitMs = 2000;

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

int64_t ThreadCpuNs() {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

bool ReadSmall(const std::string& path, std::string* out, size_t max = 1 << 20) {
  return ReadFileText(path.c_str(), out, max);
}

bool ReadBig(const std::string& path, std::string* out) { return ReadSmall(path, out, 256u << 20); }

long PerfOpen(perf_event_attr* attr, pid_t pid, int cpu) {
  return syscall(SYS_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string PerfReason(const char* source, int err) {
  std::string paranoid;
  ReadSmall("/proc/sys/kernel/perf_event_paranoid", &paranoid, 32);
  paranoid = Trimmed(paranoid);
  std::string s = source;
  switch (err) {
    case EACCES:
    case EPERM:
      if (std::strcmp(source, "watchpoint") == 0) return s + ": needs CAP_SYS_ADMIN";
      return s + ": needs CAP_PERFMON or CAP_SYS_ADMIN (perf_event_paranoid=" + paranoid + ")";
    case ENOENT:
    case EOPNOTSUPP:
    case ENODEV:
      return s + ": not supported by this kernel or CPU (" + std::strerror(err) + ")";
    case ENOSPC:
      return s + ": no free hardware debug register (a debugger may hold them)";
    case EMFILE:
    case ENFILE:
      return s + ": out of file descriptors";
    case ENOSYS:
      return s + ": perf_event_open is not available (seccomp or no CONFIG_PERF_EVENTS)";
    default:
      return s + ": perf_event_open failed: " + std::strerror(err);
  }
}

// "integrity" / "confidentiality" when the kernel is locked down, else "".
std::string Lockdown() {
  std::string text;
  if (!ReadSmall("/sys/kernel/security/lockdown", &text, 256)) return {};
  size_t open = text.find('['), close = text.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return {};
  std::string mode = text.substr(open + 1, close - open - 1);
  return mode == "none" ? std::string() : mode;
}

}  // namespace

// ---- PerfEvents -----------------------------------------------------------------

bool PerfEvents::Open(const perf_event_attr& attr, pid_t pid, const std::vector<int>& cpus, int* err) {
  Close();
  attr_ = attr;
  attr_.disabled = 1;
  pid_ = pid;
  *err = 0;
  if (pid > 0) {
    if (!OpenOne(-1, err)) return Close(), false;
  } else {
    for (int cpu : cpus) {
      if (!OpenOne(cpu, err)) return Close(), false;
    }
  }
  // Enabled only after every CPU opened, and reported armed only once every
  // enable returned: a late arm on one CPU would miss writes there.
  for (Ring& r : rings_) {
    if (ioctl(r.fd.get(), PERF_EVENT_IOC_ENABLE, 0) != 0) {
      *err = errno;
      Close();
      return false;
    }
  }
  return !rings_.empty();
}

bool PerfEvents::OpenCpu(int cpu, int* err) {
  if (Has(cpu)) return true;
  if (!OpenOne(cpu, err)) return false;
  Ring& r = rings_.back();
  if (ioctl(r.fd.get(), PERF_EVENT_IOC_ENABLE, 0) != 0) {
    *err = errno;
    CloseCpu(cpu);
    return false;
  }
  return true;
}

bool PerfEvents::Has(int cpu) const {
  for (const Ring& r : rings_) {
    if (r.cpu == cpu) return true;
  }
  return false;
}

bool PerfEvents::OpenOne(int cpu, int* err) {
  perf_event_attr a = attr_;
  long fd = PerfOpen(&a, pid_ > 0 ? pid_ : -1, cpu);
  if (fd < 0) {
    *err = errno;
    return false;
  }
  Ring r;
  r.cpu = cpu;
  r.fd.reset(static_cast<int>(fd));
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  r.len = (1 + kDataPages) * page;
  void* base = mmap(nullptr, r.len, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd.get(), 0);
  if (base == MAP_FAILED) {
    *err = errno;
    return false;
  }
  r.base = base;
  rings_.push_back(std::move(r));
  return true;
}

void PerfEvents::CloseCpu(int cpu) {
  for (auto it = rings_.begin(); it != rings_.end(); ++it) {
    if (it->cpu != cpu) continue;
    if (it->base != nullptr) munmap(it->base, it->len);
    rings_.erase(it);
    return;
  }
}

void PerfEvents::Close() {
  for (Ring& r : rings_) {
    if (r.base != nullptr) munmap(r.base, r.len);
  }
  rings_.clear();
}

// ---- PerfSourceBase --------------------------------------------------------------

std::vector<int> PerfSourceBase::ParseCpuList(const std::string& text) {
  // "0-3,5,7-8\n"
  std::vector<int> cpus;
  size_t i = 0;
  auto num = [&](long* out) {
    size_t start = i;
    long v = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 7) v = v * 10 + (text[i++] - '0');
    *out = v;
    return i > start;
  };
  while (i < text.size()) {
    long a = 0, b = 0;
    if (!num(&a)) break;
    b = a;
    if (i < text.size() && text[i] == '-') {
      ++i;
      if (!num(&b) || b < a) return {};
    }
    if (b - a > 65536) return {};
    for (long c = a; c <= b; ++c) cpus.push_back(static_cast<int>(c));
    if (i < text.size() && text[i] == ',') {
      ++i;
    } else {
      break;
    }
  }
  return cpus;
}

namespace {

std::vector<int> OnlineCpus() {
  std::string text;
  std::vector<int> cpus;
  if (ReadSmall("/sys/devices/system/cpu/online", &text, 4096)) cpus = PerfSourceBase::ParseCpuList(text);
  if (cpus.empty()) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long c = 0; c < n && c < 4096; ++c) cpus.push_back(static_cast<int>(c));
  }
  return cpus;
}

constexpr uint64_t kTagHotplug = ~0ull;

PerfReport ReportOf(const perf::Sample& s, PerfReport::Via via) {
  PerfReport r;
  r.via = via;
  r.pid = s.pid;
  r.tid = s.tid;
  r.cpu = s.cpu;
  r.time_ns = s.time;
  return r;
}

}  // namespace

bool PerfSourceBase::OpenBase(std::string* reason) {
  Close();
  epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) {
    *reason = std::string("epoll_create1: ") + std::strerror(errno);
    return false;
  }
  // CPU hotplug arrives as "SUBSYSTEM=cpu" uevents: re-arm then. Optional
  // (a container without netlink uevents keeps the CPUs it started with).
  hotplug_.reset(socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT));
  if (hotplug_) {
    struct sockaddr_nl sa;
    std::memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = 1;
    struct epoll_event ev;
    std::memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = kTagHotplug;
    if (bind(hotplug_.get(), reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) != 0 ||
        epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, hotplug_.get(), &ev) != 0) {
      hotplug_.reset();
    }
  }
  online_ = OnlineCpus();
  return true;
}

bool PerfSourceBase::Watch(PerfEvents* ev, std::string* reason) {
  for (auto& r : ev->rings()) {
    struct epoll_event e;
    std::memset(&e, 0, sizeof e);
    e.events = EPOLLIN;
    e.data.u64 = static_cast<uint64_t>(static_cast<uint32_t>(r.cpu));
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, r.fd.get(), &e) != 0) {
      *reason = std::string("epoll_ctl: ") + std::strerror(errno);
      return false;
    }
  }
  return true;
}

void PerfSourceBase::Close() {
  for (PerfEvents* e : events()) e->Close();
  epoll_.reset();
  hotplug_.reset();
  armed_ = false;
  cpus_ = 0;
}

void PerfSourceBase::Symbolize(const std::vector<uint64_t>& chain, PerfReport* r, size_t max_frames) {
  if (chain.empty()) return;
  std::shared_ptr<const Kallsyms> syms = symbols::Current(kParseWaitMs);
  if (!syms) {
    if (symbols::ReloadAsync()) ++stats_.reloads;
    return;  // no table (yet): no names, as when kallsyms is hidden
  }
  if (syms != named_with_) {
    named_with_ = syms;
    section_names_.clear();
  }
  bool unknown = false;
  for (uint64_t ip : chain) unknown |= !syms->Covers(ip);
  // A module loaded after the table was read: re-read it off this thread
  // (at most once a second) and name its frames from its sections meanwhile.
  if (unknown && symbols::ReloadAsync()) ++stats_.reloads;
  // The new modules' sections are read at most once per report (the sysfs reads, not the lookups, cost).
  bool have_sections = false;
  std::vector<symbols::ModuleSection> sections;
  auto name = [&](uint64_t ip) -> std::string {
    if (syms->Covers(ip)) return syms->Name(ip);
    auto it = section_names_.find(ip);
    if (it == section_names_.end()) {
      if (section_names_.size() >= 256) section_names_.clear();
      if (!have_sections) {
        sections = symbols::UnknownModuleSections(syms.get());
        have_sections = true;
      }
      it = section_names_.emplace(ip, symbols::NameIn(sections, ip)).first;
    }
    return it->second.empty() ? syms->Name(ip) : it->second;
  };
  for (size_t i = 0; i < chain.size() && i < max_frames; ++i) r->stack.push_back(name(chain[i]));
  int site = SiteFrame(*syms, chain);
  if (site >= 0) r->site = name(chain[static_cast<size_t>(site)]);
}

namespace {

// One read of a small /proc file relative to dir (a seq_file gives it whole in the first read); false
// when it cannot be opened or read.
bool ReadAt(int dir, const char* name, char* buf, size_t size, size_t* len) {
  int fd = ::openat(dir, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n;
  do {
    n = ::read(fd, buf, size - 1);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n < 0) return false;
  buf[n] = '\0';
  *len = static_cast<size_t>(n);
  return true;
}

}  // namespace

// Runs in the drain, on the watch thread, before the writer may exit: one lookup of the task's /proc
// directory and a handful of syscalls (each costs ~0.1 ms under TCG, where this thread shares the one
// vCPU with the writer's exit and the JS thread).
void PerfSourceBase::FillProcess(PerfReport* r) {
  if (r->pid == 0) return;  // the idle task / interrupt context: no process to name
  char dir[48];
  std::snprintf(dir, sizeof dir, "/proc/%u/task/%u", r->pid, r->tid != 0 ? r->tid : r->pid);
  int d = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return;  // gone already
  char buf[4096];
  size_t n = 0;
  if (ReadAt(d, "comm", buf, sizeof buf, &n)) r->comm = Trimmed(std::string(buf, n));
  ssize_t m = ::readlinkat(d, "exe", buf, sizeof buf - 1);
  if (m > 0) r->exe.assign(buf, static_cast<size_t>(m));
  if (ReadAt(d, "status", buf, sizeof buf, &n)) {
    const char* at = std::strstr(buf, "\nUid:");
    if (at != nullptr) r->uid = std::strtoll(at + 5, nullptr, 10);
  }
  ::close(d);
}

void PerfSourceBase::Report(PerfReport r) {
  latest_ = std::move(r);
  ++stats_.reports;
}

void PerfSourceBase::CheckCpus(const std::vector<int>& came) {
  std::vector<int> now = OnlineCpus();
  if (now == online_ && came.empty()) return;
  for (PerfEvents* e : events()) {
    if (!e->open()) continue;
    std::vector<int> gone;
    for (auto& r : e->rings()) {
      if (r.cpu >= 0 && std::find(now.begin(), now.end(), r.cpu) == now.end()) gone.push_back(r.cpu);
    }
    // A CPU that went offline and came back between two drains looks
    // unchanged in the online list, but the kernel removed its event at
    // offline: open it again.
    for (int c : came) {
      if (std::find(now.begin(), now.end(), c) != now.end() && e->Has(c)) gone.push_back(c);
    }
    for (int c : gone) e->CloseCpu(c);  // closing removes it from the epoll set
    for (int c : now) {
      int err = 0;
      if (e->Has(c) || !e->OpenCpu(c, &err)) continue;
      struct epoll_event ev;
      std::memset(&ev, 0, sizeof ev);
      ev.events = EPOLLIN;
      ev.data.u64 = static_cast<uint64_t>(static_cast<uint32_t>(c));
      if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, e->rings().back().fd.get(), &ev) != 0) e->CloseCpu(c);
      ++stats_.rearms;
    }
  }
  online_ = now;
}

bool PerfSourceBase::Drain() {
  if (!epoll_) return false;
  const int64_t t0 = NowNs();
  const int64_t c0 = ThreadCpuNs();
  ++stats_.drains;
  // Consume the readiness of the inner set; learn about hangups and hotplug.
  struct epoll_event evs[16];
  bool hotplug = false;
  std::vector<int> hung;
  for (;;) {
    int n = epoll_wait(epoll_.get(), evs, 16, 0);
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.u64 == kTagHotplug) {
        hotplug = true;
      } else if (evs[i].events & (EPOLLHUP | EPOLLERR)) {
        hung.push_back(static_cast<int>(static_cast<uint32_t>(evs[i].data.u64)));
      }
    }
    if (n < 16) break;
  }
  bool news = DrainEvents();
  for (int c : hung) {
    // An event that hung up (its CPU went away) would make epoll spin: drop
    // it; CheckCpus below (or at the CPU's online uevent) opens it again.
    for (PerfEvents* e : events()) e->CloseCpu(c);
  }
  if (hotplug) {
    char buf[8192];
    bool cpu = false;
    std::vector<int> came;  // CPUs that came online: their old event (if any) died with them
    for (;;) {
      ssize_t n = recv(hotplug_.get(), buf, sizeof buf - 1, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == ENOBUFS) {
        cpu = true;  // lost some: check anyway
        continue;
      }
      if (n <= 0) break;
      buf[n] = '\0';
      // "online@/devices/system/cpu/cpu1\0ACTION=online\0...SUBSYSTEM=cpu\0"
      bool is_cpu = false, online = false;
      int which = -1;
      for (ssize_t at = 0; at < n; at += static_cast<ssize_t>(std::strlen(buf + at)) + 1) {
        const char* f = buf + at;
        if (std::strcmp(f, "SUBSYSTEM=cpu") == 0) is_cpu = true;
        if (std::strcmp(f, "ACTION=online") == 0) online = true;
        if (std::strncmp(f, "DEVPATH=/devices/system/cpu/cpu", 31) == 0 && f[31] >= '0' && f[31] <= '9') {
          which = static_cast<int>(std::strtol(f + 31, nullptr, 10));
        }
      }
      if (is_cpu) cpu = true;
      if (is_cpu && online && which >= 0) came.push_back(which);
    }
    if (cpu) CheckCpus(came);
  }
  stats_.drain_ns += static_cast<uint64_t>(NowNs() - t0);
  stats_.drain_cpu_ns += static_cast<uint64_t>(ThreadCpuNs() - c0);
  return news;
}

// ---- WatchpointCore -----------------------------------------------------------

bool WatchpointCore::Arm(std::string* reason) {
  if (!OpenBase(reason)) return false;
  perf_event_attr a;
  std::memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_BREAKPOINT;
  a.bp_type = HW_BREAKPOINT_W;
  a.bp_len = HW_BREAKPOINT_LEN_8;
  a.sample_period = 1;
  a.wakeup_events = 1;
  a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_CALLCHAIN;
  // Sample times on CLOCK_MONOTONIC (the clock of process.hrtime): comparable
  // with the watch loop's and JS's own stamps (Linux >= 4.1; NMI-safe).
  a.use_clockid = 1;
  a.clockid = CLOCK_MONOTONIC;
  a.exclude_callchain_user = 1;
  a.comm = 1;  // exec/prctl names, for a writer gone before the drain reads /proc
  if (test_pid_ > 0 && !test_probe_path_.empty()) {
    // uretprobe PMU: type and the retprobe bit from sysfs.
    std::string type, bit;
    if (!ReadSmall("/sys/bus/event_source/devices/uprobe/type", &type, 32) ||
        !ReadSmall("/sys/bus/event_source/devices/uprobe/format/retprobe", &bit, 32) ||
        bit.rfind("config:", 0) != 0) {
      *reason = "watchpoint: test probe: no uprobe PMU";
      return Close(), false;
    }
    a.type = static_cast<uint32_t>(std::strtoul(type.c_str(), nullptr, 10));
    a.bp_type = 0;
    a.config = 1ull << std::strtoul(bit.c_str() + 7, nullptr, 10);
    a.config1 = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(test_probe_path_.c_str()));
    a.config2 = test_probe_offset_;
  } else if (test_pid_ > 0) {
    a.bp_addr = test_addr_;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
  } else {
    if (Lockdown() == "confidentiality") {
      *reason = "watchpoint: kernel lockdown (confidentiality)";
      return Close(), false;
    }
    // tainted_mask's address from the process's last read of kallsyms, else
    // one read now (the slow step of 'ready' under emulation); the symbol
    // table is parsed from that text off this thread.
    a.bp_addr = symbols::TaintedMask();
    if (a.bp_addr == 0) {
      std::string text;
      if (!ReadBig("/proc/kallsyms", &text)) {
        *reason = std::string("watchpoint: /proc/kallsyms not readable: ") + std::strerror(errno);
        return Close(), false;
      }
      bool hidden = false;
      a.bp_addr = Kallsyms::Find(text, "tainted_mask", &hidden);
      if (a.bp_addr == 0) {
        *reason = hidden ? "watchpoint: kptr_restrict hides tainted_mask (needs CAP_SYSLOG)"
                         : "watchpoint: tainted_mask is not in /proc/kallsyms";
        return Close(), false;
      }
      symbols::Publish(std::move(text), a.bp_addr);
    }
    mask_fd_.reset(::open("/proc/sys/kernel/tainted", O_RDONLY | O_CLOEXEC));
    if (!mask_fd_) {
      *reason = std::string("watchpoint: /proc/sys/kernel/tainted not readable: ") + std::strerror(errno);
      return Close(), false;
    }
  }
  int err = 0;
  if (!wp_.Open(a, test_pid_, online_, &err)) {
    *reason = PerfReason("watchpoint", err);
    return Close(), false;
  }
  if (!Watch(&wp_, reason)) return Close(), false;
  if (!ReadMask(&mask_)) mask_ = 0;
  armed_ = true;
  cpus_ = static_cast<int>(wp_.rings().size());
  return true;
}

bool WatchpointCore::ReadMask(uint32_t* mask) {
  if (test_pid_ > 0) {
    uint64_t v = 0;
    struct iovec local = {&v, sizeof v};
    struct iovec remote = {reinterpret_cast<void*>(static_cast<uintptr_t>(test_addr_)), sizeof v};
    if (process_vm_readv(test_pid_, &local, 1, &remote, 1, 0) != static_cast<ssize_t>(sizeof v)) return false;
    *mask = static_cast<uint32_t>(v);
    return true;
  }
  if (!mask_fd_) return false;
  char buf[32];
  ssize_t n;
  do {
    n = pread(mask_fd_.get(), buf, sizeof buf - 1, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return false;
  buf[n] = '\0';
  char* end = nullptr;
  unsigned long long v = std::strtoull(buf, &end, 10);
  if (end == buf) return false;
  *mask = static_cast<uint32_t>(v);
  return true;
}

namespace {

// Whether a watchpoint callchain passes through the WARN machinery (the store of a WARN's W).
bool WarnChain(const Kallsyms& syms, const std::vector<uint64_t>& chain) {
  static constexpr std::string_view kWarn[] = {"__warn", "warn_slowpath_fmt", "__warn_printk", "report_bug",
                                               "__report_bug", "report_bug_entry"};
  for (size_t i = 0; i < chain.size() && i < 8; ++i) {
    std::string_view fn = syms.Function(chain[i]);
    for (std::string_view w : kWarn) {
      if (fn == w) return true;
    }
  }
  return false;
}

// The traps of one drain kept for choosing the report's (a WARN storm drains thousands: only counted).
constexpr size_t kKeptTraps = 16;

}  // namespace

int EarliestWarnTrap(const Kallsyms& syms, const std::vector<perf::Sample>& traps) {
  int best = -1;
  for (size_t i = 0; i < traps.size(); ++i) {
    if ((best < 0 || traps[i].time < traps[static_cast<size_t>(best)].time) && WarnChain(syms, traps[i].callchain)) {
      best = static_cast<int>(i);
    }
  }
  return best;
}

bool WatchpointCore::DrainEvents() {
  uint64_t n = 0;
  bool have = false;
  bool mixed = false;  // traps of more than one thread in this drain
  std::vector<perf::Sample> kept;
  wp_.Drain(
      &stats_.lost, &stats_.malformed,
      [&](const perf::Sample& s) {
        ++n;
        if (have && s.tid != first_.tid) mixed = true;
        if (kept.size() < kKeptTraps) kept.push_back(s);
        // Rings are per CPU: keep the earliest write of this drain, across CPUs.
        if (!have || s.time < first_.time) {
          first_.pid = s.pid;
          first_.tid = s.tid;
          first_.cpu = s.cpu;
          first_.time = s.time;
          first_.callchain = s.callchain;
          have = true;
        }
      },
      [&](uint32_t, uint32_t tid, const std::string& comm) {
        if (comms_.size() >= 4096) comms_.clear();
        comms_[tid] = comm;
      });
  stats_.samples += n;
  if (!have) return false;
  uint32_t now = mask_;
  if (!ReadMask(&now) || now == mask_) {
    // Writes that left the mask as it was (set_bit of a set bit: a WARN storm
    // on an already-set W): counted here, nothing for the watches or JS.
    stats_.coalesced += n;
    return false;
  }
  // Which trap of a drain changed the mask is not recorded. When the drain added W and no module bit,
  // the report is the earliest trap whose callchain is a WARN's: `insmod` of a module whose init WARNs
  // drains the loader's stores of bits already set (no change) with the WARN's store, and the earliest
  // trap (the loader's) would name load_module as the site of the W.
  const uint32_t added = now & ~mask_;
  if (test_pid_ == 0 && (added & kBitW) != 0 && (added & modload::kLoaderBits) == 0 && kept.size() > 1) {
    if (std::shared_ptr<const Kallsyms> syms = symbols::Current(0)) {
      const int i = EarliestWarnTrap(*syms, kept);
      if (i >= 0) first_ = kept[static_cast<size_t>(i)];
    }
  }
  PerfReport r = ReportOf(first_, PerfReport::kWatchpoint);
  r.before = mask_;
  r.after = now;
  r.bits = added;
  r.samples = n;
  // Which of several threads' traps changed the mask is not recorded (a WARN
  // storm on a set bit beside a real write): the report says so, and JS gives
  // no actor from it rather than guess the earliest.
  r.writers = mixed ? 2 : 1;
  const int64_t s0 = NowNs();
  if (test_pid_ == 0) Symbolize(first_.callchain, &r, kMaxStack);  // a test target has no kernel frames to name
  const int64_t f0 = NowNs();
  FillProcess(&r);
  stats_.symbolize_ns += static_cast<uint64_t>(f0 - s0);
  stats_.fill_ns += static_cast<uint64_t>(NowNs() - f0);
  if (r.comm.empty() && r.pid != 0) {
    auto it = comms_.find(r.tid != 0 ? r.tid : r.pid);
    if (it != comms_.end()) r.comm = it->second;
  }
  Report(std::move(r));
  mask_ = now;
  return true;
}

// ---- TracepointCore -----------------------------------------------------------

bool TracepointCore::Arm(std::string* reason) {
  if (Lockdown() == "confidentiality") {
    *reason = "tracepoint: kernel lockdown (confidentiality)";
    return false;
  }
  std::string mounts;
  ReadSmall("/proc/self/mounts", &mounts, 4 << 20);
  const std::string root = LocateTracefs(mounts, {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}, reason);
  if (root.empty()) return false;
  if (!OpenBase(reason)) return false;
  perf_event_attr a;
  std::memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_TRACEPOINT;
  a.sample_period = 1;
  a.wakeup_events = 1;
  a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;
  a.use_clockid = 1;
  a.clockid = CLOCK_MONOTONIC;
  std::vector<std::string> missing;
  int first_err = 0;
  auto arm = [&](const char* event, PerfEvents* ev, TraceFormat* fmt, std::initializer_list<const char*> need) {
    std::string text, why;
    const std::string dir = root + "/events/" + event;
    if (!ReadSmall(dir + "/format", &text, 64 << 10)) {
      missing.push_back(std::string(event) + " (" + (errno == ENOENT ? "not in this kernel" : std::strerror(errno)) + ")");
      return;
    }
    if (!ParseTraceFormat(text, fmt, &why)) {
      missing.push_back(std::string(event) + " (format: " + why + ")");
      return;
    }
    if (fmt->id < 0) {
      std::string id;
      if (ReadSmall(dir + "/id", &id, 32)) fmt->id = std::strtol(id.c_str(), nullptr, 10);
      if (fmt->id <= 0) {
        missing.push_back(std::string(event) + " (no id)");
        return;
      }
    }
    for (const char* f : need) {
      if (fmt->Find(f) == nullptr) {
        missing.push_back(std::string(event) + " (no field " + f + ")");
        return;
      }
    }
    a.config = static_cast<uint64_t>(fmt->id);
    int err = 0;
    if (!ev->Open(a, -1, online_, &err) || !Watch(ev, &why)) {
      ev->Close();
      if (first_err == 0) first_err = err;
      missing.push_back(PerfReason(event, err));
    }
  };
  arm("module/module_load", &module_load_, &module_load_fmt_, {"taints", "name"});
  arm("error_report/error_report_end", &error_report_, &error_report_fmt_, {"error_detector", "id"});
  if (!module_load_.open() && !error_report_.open()) {
    *reason = first_err != 0 ? PerfReason("tracepoint", first_err) : "tracepoint: ";
    if (first_err == 0) {
      for (size_t i = 0; i < missing.size(); ++i) *reason += (i ? "; " : "") + missing[i];
    }
    return Close(), false;
  }
  // The WARN caller address is named with kallsyms (left as hex when hidden),
  // read off this thread unless the watchpoint's arm already did.
  if (error_report_.open() && !symbols::Current(0)) symbols::ReloadAsync();
  if (!missing.empty()) {
    *reason = "tracepoint: partly armed, without ";
    for (size_t i = 0; i < missing.size(); ++i) *reason += (i ? "; " : "") + missing[i];
  }
  armed_ = true;
  cpus_ = static_cast<int>(std::max(module_load_.rings().size(), error_report_.rings().size()));
  return true;
}

bool TracepointCore::OnSample(const perf::Sample& s, bool module_load) {
  PerfReport r = ReportOf(s, PerfReport::kTracepoint);
  if (module_load) {
    const TraceField* taints = module_load_fmt_.Find("taints");
    const TraceField* name = module_load_fmt_.Find("name");
    uint64_t t = 0;
    if (taints == nullptr || name == nullptr || !ReadUnsigned(s.raw, *taints, &t)) return false;
    if (name->data_loc && !ReadDataLocString(s.raw, *name, &r.module)) return false;
    r.event = "module_load";
    r.bits = static_cast<uint32_t>(t);
    if (r.bits == 0) return false;  // a module that taints nothing
  } else {
    const TraceField* det = error_report_fmt_.Find("error_detector");
    const TraceField* id = error_report_fmt_.Find("id");
    uint64_t d = 0, ip = 0;
    if (det == nullptr || id == nullptr || !ReadUnsigned(s.raw, *det, &d) || !ReadUnsigned(s.raw, *id, &ip)) {
      return false;
    }
    r.event = "error_report_end";
    r.detector = static_cast<int32_t>(d);
    r.bits = d == 2 ? kBitW : kBitB;  // warning -> W; kfence / kasan -> B
    std::vector<uint64_t> one{ip};
    Symbolize(one, &r, 1);
    if (r.site.empty() && !r.stack.empty()) r.site = r.stack.front();
    if (r.site.empty()) {
      char hex[24];
      std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(ip));
      r.site = hex;
    }
  }
  FillProcess(&r);
  if (module_load) {
    if (module_loads_.size() >= kKeptModuleLoads) module_loads_.erase(module_loads_.begin());
    module_loads_.push_back(r);
  }
  Report(std::move(r));
  return true;
}

bool TracepointCore::DrainEvents() {
  bool news = false;
  module_load_.Drain(&stats_.lost, &stats_.malformed, [&](const perf::Sample& s) {
    ++stats_.samples;
    news |= OnSample(s, true);
  });
  error_report_.Drain(&stats_.lost, &stats_.malformed, [&](const perf::Sample& s) {
    ++stats_.samples;
    news |= OnSample(s, false);
  });
  return news;
}

}  // namespace kt
