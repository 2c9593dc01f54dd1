#include "tracefs.h"

#include <errno.h>
#include <sys/stat.h>

#include <cstring>

namespace kt {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool ParseUint(std::string_view s, uint64_t* out) {
  s = Trim(s);
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

// "field:unsigned int taints;\toffset:8;\tsize:4;\tsigned:0;"
bool ParseField(std::string_view line, TraceField* f) {
  std::string_view decl, offset, size, sign;
  bool have_sign = false;
  while (!line.empty()) {
    size_t semi = line.find(';');
    std::string_view part = Trim(line.substr(0, semi));
    line = semi == std::string_view::npos ? std::string_view() : line.substr(semi + 1);
    size_t colon = part.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = part.substr(0, colon), value = part.substr(colon + 1);
    if (key == "field") decl = Trim(value);
    else if (key == "offset") offset = value;
    else if (key == "size") size = value;
    else if (key == "signed") sign = value, have_sign = true;
  }
  uint64_t o = 0, s = 0, sg = 0;
  if (decl.empty() || !ParseUint(offset, &o) || !ParseUint(size, &s) || o > 0xffff || s > 0xffff) return false;
  if (have_sign && !ParseUint(sign, &sg)) return false;
  // The name is the last identifier: "char comm[16]" (array after the name)
  // or "__data_loc char[] name" (brackets in the type).
  std::string_view d = decl, suffix;
  if (d.back() == ']') {
    size_t bracket = d.rfind('[');
    suffix = d.substr(bracket);
    d = Trim(d.substr(0, bracket));
  }
  size_t sp = d.find_last_of(" \t*");
  if (sp == std::string_view::npos || sp + 1 >= d.size()) return false;
  f->name = std::string(d.substr(sp + 1));
  f->type = std::string(Trim(d.substr(0, sp + 1))) + std::string(suffix);
  f->offset = static_cast<uint32_t>(o);
  f->size = static_cast<uint32_t>(s);
  f->is_signed = sg != 0;
  f->data_loc = f->type.rfind("__data_loc", 0) == 0;
  return true;
}

int OctalDigit(char c) { return c >= '0' && c <= '7' ? c - '0' : -1; }

std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && OctalDigit(s[i + 1]) >= 0 && OctalDigit(s[i + 2]) >= 0 &&
        OctalDigit(s[i + 3]) >= 0) {
      out += static_cast<char>(OctalDigit(s[i + 1]) * 64 + OctalDigit(s[i + 2]) * 8 + OctalDigit(s[i + 3]));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

const TraceField* TraceFormat::Find(std::string_view n) const {
  for (const auto& f : fields) {
    if (f.name == n) return &f;
  }
  return nullptr;
}

bool ParseTraceFormat(std::string_view text, TraceFormat* out, std::string* reason) {
  *out = TraceFormat();
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = Trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.rfind("name:", 0) == 0) {
      out->name = std::string(Trim(line.substr(5)));
    } else if (line.rfind("ID:", 0) == 0) {
      uint64_t id = 0;
      if (ParseUint(line.substr(3), &id) && id <= 0x7fffffff) out->id = static_cast<int64_t>(id);
    } else if (line.rfind("field:", 0) == 0) {
      TraceField f;
      if (!ParseField(line, &f)) {
        *reason = "malformed field line: " + std::string(line.substr(0, 120));
        return false;
      }
      out->fields.push_back(std::move(f));
    } else if (line.rfind("print fmt:", 0) == 0) {
      break;
    }
  }
  if (out->fields.empty()) {
    *reason = "no field lines";
    return false;
  }
  return true;
}

std::string TracefsFromMounts(std::string_view text) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    // "<source> <mountpoint> <fstype> <options> 0 0"
    size_t a = line.find(' ');
    if (a == std::string_view::npos) continue;
    size_t b = line.find(' ', a + 1);
    if (b == std::string_view::npos) continue;
    size_t c = line.find(' ', b + 1);
    std::string_view fstype = line.substr(b + 1, c == std::string_view::npos ? std::string_view::npos : c - b - 1);
    if (fstype == "tracefs") return Unescape(line.substr(a + 1, b - a - 1));
  }
  return std::string();
}

std::string LocateTracefs(std::string_view mounts_text, const std::vector<std::string>& fallbacks,
                          std::string* reason) {
  std::vector<std::string> candidates;
  std::string mounted = TracefsFromMounts(mounts_text);
  if (!mounted.empty()) candidates.push_back(mounted);
  for (const std::string& f : fallbacks) {
    if (f != mounted) candidates.push_back(f);
  }
  std::string denied, other;
  for (const std::string& c : candidates) {
    struct stat sb;
    if (stat((c + "/events").c_str(), &sb) == 0 && S_ISDIR(sb.st_mode)) return c;
    const int e = errno;
    if ((e == EACCES || e == EPERM) && denied.empty()) {
      denied = c;
    } else if (e != ENOENT && e != ENOTDIR && other.empty()) {
      other = c + "/events: " + std::strerror(e);
    } else if (c == mounted && other.empty()) {
      other = "tracefs at " + c + " has no events directory";
    }
  }
  if (!denied.empty()) {
    *reason = "tracepoint: " + denied + ": " + std::strerror(EACCES) +
              " (needs root, or CAP_DAC_READ_SEARCH and CAP_PERFMON)";
  } else if (!other.empty()) {
    *reason = "tracepoint: " + other;
  } else {
    *reason = "tracepoint: no tracefs mounted";
  }
  return std::string();
}

bool ReadUnsigned(const std::vector<uint8_t>& raw, const TraceField& f, uint64_t* out) {
  if (f.size != 1 && f.size != 2 && f.size != 4 && f.size != 8) return false;
  if (static_cast<size_t>(f.offset) + f.size > raw.size()) return false;
  uint64_t v = 0;
  std::memcpy(&v, raw.data() + f.offset, f.size);  // little-endian hosts (x86, arm64)
  *out = v;
  return true;
}

bool ReadDataLocString(const std::vector<uint8_t>& raw, const TraceField& f, std::string* out) {
  if (!f.data_loc || f.size != 4) return false;
  uint64_t loc = 0;
  if (!ReadUnsigned(raw, f, &loc)) return false;
  size_t off = loc & 0xffff, len = (loc >> 16) & 0xffff;
  if (off > raw.size() || len > raw.size() - off) return false;
  const char* s = reinterpret_cast<const char*>(raw.data() + off);
  size_t n = 0;
  while (n < len && s[n] != '\0') ++n;
  out->assign(s, n);
  return true;
}

}  // namespace kt
