// The kernel symbol table of the process, shared by every perf source of every
// watch loop (one /proc/kallsyms read serves the watchpoint and the
// tracepoints, and the watchers of every Worker).
//
// Reading /proc/kallsyms is the slow part of attribution (the kernel formats
// ~150k lines; seconds under QEMU/TCG), so it never happens on the watch
// thread while a change waits:
//   - the watchpoint's arm reads the text once (it needs tainted_mask's
//     address before 'ready') and hands it here; the table is parsed on a
//     helper thread, and a report that needs it before the parse ends waits
//     for the parse only (CPU-bound, bounded), never for a new read;
//   - an address no symbol covers (a module loaded after the read) starts a
//     re-read on a helper thread; meanwhile such an address is named from
//     the module's sections in /sys/module/<m>/sections (".init.text+0x11
//     [kt_warn]"), which only cost a few small sysfs reads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kallsyms.h"

namespace kt::symbols {

// The address of tainted_mask from the last table text handed over (0 when
// none was, or it was hidden): a re-arm needs no new read.
uint64_t TaintedMask();
// Takes the text just read from /proc/kallsyms (and tainted_mask's address
// found in it) and parses it on a helper thread.
void Publish(std::string text, uint64_t tainted_mask);
// The newest parsed table (null before the first one). Waits for a parse of
// text already read (never for a read) at most `wait_ms`.
std::shared_ptr<const Kallsyms> Current(int wait_ms);
// Whether a table text is being parsed (a report now would wait for it).
bool Parsing();
// Starts a re-read of /proc/kallsyms on a helper thread unless one is running
// or the last one started less than a second ago. Never blocks. True when it
// started one.
bool ReloadAsync();

// A section of a loaded module, from /sys/module/<m>/sections/<section> (root only; zeros otherwise).
struct ModuleSection {
  uint64_t base;
  std::string module;
  std::string section;
};
// The sections of the loaded modules `known` does not list (loaded after the table was read): the
// modules from `proc_modules` (one read; "" or unreadable: every directory of `sysfs_module`), then each
// unknown one's sections directory. Tests pass temp paths.
std::vector<ModuleSection> UnknownModuleSections(const Kallsyms* known, const std::string& sysfs_module = "/sys/module",
                                                 const std::string& proc_modules = "/proc/modules");
// Names `addr` from the nearest section below it ("<section>+0x<off> [<module>]"), "" when none of
// `sections` holds it (none within 64 MiB below).
std::string NameIn(const std::vector<ModuleSection>& sections, uint64_t addr);
// UnknownModuleSections + NameIn for one address.
std::string NameFromSections(const Kallsyms* known, uint64_t addr, const std::string& sysfs_module = "/sys/module",
                             const std::string& proc_modules = "/proc/modules");

}  // namespace kt::symbols
