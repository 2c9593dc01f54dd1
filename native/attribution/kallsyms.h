// /proc/kallsyms: find a symbol's address, and name kernel code addresses
// ("func+0x1a" or "func+0x11 [module]"). Parsing takes text, so tests use a
// fake kallsyms; Load() reads the real file (or a path given by a test).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kt {

class Kallsyms {
 public:
  // Replaces the table with the text symbols (t T w W) of `text`. Lines that
  // do not parse are skipped. Addresses that read as 0 (kptr_restrict, or a
  // reader without CAP_SYSLOG) are dropped: hidden() then says so.
  void Parse(std::string_view text);
  // Reads and parses a kallsyms file. False (errno set) when unreadable.
  bool Load(const char* path);

  // The address of a symbol of any type (e.g. `b tainted_mask`) in `text`:
  // 0 when absent or hidden. Scans without building a table.
  static uint64_t Find(std::string_view text, std::string_view name, bool* hidden);

  // "func+0xoff" / "func+0xoff [module]"; "0x<hex>" when no symbol covers it.
  std::string Name(uint64_t addr) const;
  // Whether a symbol covers addr: it lies between a symbol and the next one
  // of the same module (or of the kernel image). An address past a module's
  // last symbol, or between modules, is unknown: a module loaded after
  // Load(), so the caller reloads.
  bool Covers(uint64_t addr) const;
  // Base name (without ".cold"/".part.N"/".isra.N" suffixes) of the function at addr; empty if none.
  std::string_view Function(uint64_t addr) const;

  // Whether the table lists symbols of this module.
  bool HasModule(std::string_view name) const;

  size_t size() const { return syms_.size(); }
  bool hidden() const { return hidden_; }

 private:
  struct Sym {
    uint64_t addr;
    uint32_t name;    // offset into names_
    uint16_t len;
    int32_t module;   // index into modules_, -1 for the kernel image
  };
  const Sym* At(uint64_t addr, size_t* index) const;
  std::vector<Sym> syms_;
  std::string names_;
  std::vector<std::string> modules_;
  bool hidden_ = false;
};

// The first frame of a kernel callchain that is not taint, WARN, trap or
// breakpoint machinery (add_taint, __warn, report_bug, exc_invalid_op, ...):
// the code that caused the write. Index into chain, or -1 when every frame is
// machinery (or the chain is empty).
int SiteFrame(const Kallsyms& syms, const std::vector<uint64_t>& chain);

// Reads a file whole (up to max bytes; procfs and sysfs files report size 0,
// so this reads until EOF). False with errno set when it cannot.
bool ReadFileText(const char* path, std::string* out, size_t max);

}  // namespace kt
