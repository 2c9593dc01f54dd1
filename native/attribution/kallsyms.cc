#include "kallsyms.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace kt {

namespace {

bool ParseHex(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

// One kallsyms line: "<hex addr> <type> <name>[\t[<module>]]".
struct Line {
  uint64_t addr;
  char type;
  std::string_view name, module;
};

bool SplitLine(std::string_view line, Line* out) {
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos || !ParseHex(line.substr(0, sp), &out->addr)) return false;
  if (line.size() < sp + 4 || line[sp + 2] != ' ') return false;
  out->type = line[sp + 1];
  std::string_view rest = line.substr(sp + 3);
  size_t tab = rest.find_first_of("\t ");
  out->name = rest.substr(0, tab);
  out->module = {};
  if (tab != std::string_view::npos) {
    std::string_view m = rest.substr(tab + 1);
    while (!m.empty() && (m.front() == ' ' || m.front() == '\t')) m.remove_prefix(1);
    if (m.size() >= 2 && m.front() == '[') {
      size_t close = m.find(']');
      if (close != std::string_view::npos) out->module = m.substr(1, close - 1);
    }
  }
  return !out->name.empty();
}

template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!fn(line)) return;
  }
}

bool IsText(char t) { return t == 't' || t == 'T' || t == 'w' || t == 'W'; }

std::string_view BaseName(std::string_view n) {
  // gcc clones: foo.cold, foo.part.0, foo.isra.0, foo.constprop.0; keep "foo".
  size_t dot = n.find('.');
  return dot == std::string_view::npos || dot == 0 ? n : n.substr(0, dot);
}

}  // namespace

void Kallsyms::Parse(std::string_view text) {
  syms_.clear();
  names_.clear();
  modules_.clear();
  hidden_ = false;
  bool any_zero = false;
  ForEachLine(text, [&](std::string_view line) {
    Line l;
    if (!SplitLine(line, &l) || !IsText(l.type)) return true;
    if (l.addr == 0) {
      any_zero = true;
      return true;
    }
    int32_t mod = -1;
    if (!l.module.empty()) {
      if (modules_.empty() || modules_.back() != l.module) {
        auto it = std::find(modules_.begin(), modules_.end(), l.module);
        if (it == modules_.end()) {
          modules_.emplace_back(l.module);
          it = modules_.end() - 1;
        }
        mod = static_cast<int32_t>(it - modules_.begin());
      } else {
        mod = static_cast<int32_t>(modules_.size() - 1);
      }
    }
    std::string_view name = l.name.substr(0, 0xffff);
    syms_.push_back({l.addr, static_cast<uint32_t>(names_.size()), static_cast<uint16_t>(name.size()), mod});
    names_.append(name);
    return true;
  });
  hidden_ = syms_.empty() && any_zero;
  std::stable_sort(syms_.begin(), syms_.end(), [](const Sym& a, const Sym& b) { return a.addr < b.addr; });
}

bool ReadFileText(const char* path, std::string* out, size_t max) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      errno = e;
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() >= max) break;
  }
  ::close(fd);
  return true;
}

bool Kallsyms::Load(const char* path) {
  std::string text;
  // A kallsyms is ~10 MB; never grow without bound.
  if (!ReadFileText(path, &text, 256u << 20)) return false;
  Parse(text);
  return true;
}

uint64_t Kallsyms::Find(std::string_view text, std::string_view name, bool* hidden) {
  uint64_t found = 0;
  bool seen = false;
  ForEachLine(text, [&](std::string_view line) {
    Line l;
    if (!SplitLine(line, &l) || l.name != name || !l.module.empty()) return true;
    seen = true;
    found = l.addr;
    return false;
  });
  if (hidden != nullptr) *hidden = seen && found == 0;
  return found;
}

const Kallsyms::Sym* Kallsyms::At(uint64_t addr, size_t* index) const {
  auto it = std::upper_bound(syms_.begin(), syms_.end(), addr, [](uint64_t a, const Sym& s) { return a < s.addr; });
  if (it == syms_.begin()) return nullptr;
  --it;
  *index = static_cast<size_t>(it - syms_.begin());
  return &*it;
}

bool Kallsyms::Covers(uint64_t addr) const {
  size_t i = 0;
  const Sym* s = At(addr, &i);
  if (s == nullptr || i + 1 >= syms_.size()) return false;
  return syms_[i + 1].module == s->module;
}

bool Kallsyms::HasModule(std::string_view name) const {
  return std::find(modules_.begin(), modules_.end(), name) != modules_.end();
}

std::string_view Kallsyms::Function(uint64_t addr) const {
  size_t i = 0;
  const Sym* s = At(addr, &i);
  if (s == nullptr || !Covers(addr)) return {};
  return BaseName(std::string_view(names_).substr(s->name, s->len));
}

std::string Kallsyms::Name(uint64_t addr) const {
  char buf[40];
  size_t i = 0;
  const Sym* s = At(addr, &i);
  if (s == nullptr || !Covers(addr)) {
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(addr));
    return buf;
  }
  std::string out(names_, s->name, s->len);
  std::snprintf(buf, sizeof buf, "+0x%llx", static_cast<unsigned long long>(addr - s->addr));
  out += buf;
  if (s->module >= 0) {
    out += " [";
    out += modules_[static_cast<size_t>(s->module)];
    out += ']';
  }
  return out;
}

int SiteFrame(const Kallsyms& syms, const std::vector<uint64_t>& chain) {
  // Functions that set the mask, report a WARN/BUG, or deliver the trap or
  // the breakpoint: never the cause.
  static constexpr std::string_view kMachinery[] = {
      "add_taint",          "add_taint_module",   "__warn",          "warn_slowpath_fmt", "__warn_printk",
      "report_bug",         "report_bug_entry",   "__report_bug",    "handle_bug",        "exc_invalid_op",
      "asm_exc_invalid_op", "do_error_trap",      "do_trap",         "exc_debug",         "exc_debug_kernel",
      "noist_exc_debug",    "asm_exc_debug",      "hw_breakpoint_handler", "notify_die", "atomic_notifier_call_chain",
      "notifier_call_chain", "perf_bp_event",     "__perf_event_overflow", "perf_swevent_event",
      "__schedule_bug",     "bad_page",           "check_panic_on_warn", "do_int3",        "exc_int3",
  };
  for (size_t i = 0; i < chain.size(); ++i) {
    std::string_view fn = syms.Function(chain[i]);
    if (fn.empty()) return static_cast<int>(i);  // unknown code (a module): the cause, not machinery
    bool machinery = false;
    for (std::string_view m : kMachinery) {
      if (fn == m) {
        machinery = true;
        break;
      }
    }
    if (!machinery) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace kt
