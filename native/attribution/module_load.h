// One module load, one 'change' (issue #13): the pure parts of the watch
// loop's module-load hold (native/watch_loop.cc, HoldLocked and friends).
//
// load_module() sets a module's taint bits with separate stores at different
// stages (O and E from the modinfo / signature checks, P from the licence),
// and the watch thread may drain between them, so without a hold a user who
// alerts once per change gets up to three alerts for one insmod. A write is
// held only when the kernel's own report of it (the watchpoint callchain)
// shows the module loader as the writer; the hold ends at that loader's
// module:module_load tracepoint (fired at the end of load_module, after every
// taint store, before the module's init runs) or at a deadline.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../epoll_source.h"

namespace kt::modload {

// The function of a symbolized frame: "load_module+0x1922" -> "load_module",
// "__warn.cold+0x6a" -> "__warn", ".init.text+0x25 [kt_warn]" -> ".init.text".
std::string_view FrameFunction(std::string_view frame);

// Whether a watchpoint callchain (innermost frame first, as symbolized by
// PerfSourceBase::Symbolize) is a store of the module loader: past the
// taint-setting frames (add_taint, add_taint_module), the first frame is a
// loader function (load_module, module_augment_kernel_taints, check_modinfo,
// module_sig_check, ...). A WARN in a module's init also has load_module
// lower in its chain (do_init_module is called from load_module), but its
// first frame past add_taint is __warn: not the loader. An empty or
// unsymbolized chain (kallsyms hidden or not read yet) is not the loader.
bool FromModuleLoader(const std::vector<std::string>& stack);

// The bits a module load sets (add_taint_module): P F C O E K X T N. A
// watchpoint report whose added bits go beyond them is not (only) the
// loader's, whatever its callchain: a drain that folds the loader's no-op
// stores (O, E already set) with a WARN in the new module's init names the
// earliest trap's callchain (load_module) for the W it reports.
constexpr uint32_t kLoaderBits = (1u << 0) | (1u << 1) | (1u << 10) | (1u << 12) | (1u << 13) | (1u << 15) |
                                 (1u << 16) | (1u << 17) | (1u << 18);
inline bool LoaderBits(uint32_t added) { return added != 0 && (added & ~kLoaderBits) == 0; }

// Folds a newer watchpoint cause into the one a held change already has.
// Same writing thread (field "tid"): one report of the load: bits ORed,
// "after" and "samples" from/added by the newer, the rest (time, site,
// stack, "before") from the first store. Another thread: the newer replaces
// it (what an unheld change does today).
void MergeWatchpointCause(Attribution* held, const Attribution& newer);

}  // namespace kt::modload
