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

// Names `addr` from the sections of a loaded module that `known` does not
// list ("<section>+0x<off> [<module>]"), "" when none holds it. Reads
// /sys/module/<m>/sections (root only; zeros otherwise, then "").
// `sysfs_module` is the directory to read (tests pass a temp dir).
std::string NameFromSections(const Kallsyms* known, uint64_t addr, const std::string& sysfs_module = "/sys/module");

}  // namespace kt::symbols
