#include "module_load.h"

#include <cstdio>
#include <cstdlib>

namespace kt::modload {

namespace {

// The stores that set the mask: skipped to reach the code that called them.
constexpr std::string_view kSetters[] = {"add_taint", "add_taint_module"};

// kernel/module/main.c (and signing.c, version.c) functions that set a
// module's taint bits, on 6.1 (load_module+0xd28 with set_license inlined,
// __do_sys_finit_module), 6.4+ (module_augment_kernel_taints,
// module_license_taint_check) and 6.6+ / 7.x (init_module_from_file,
// idempotent_init_module), plus the syscall entries for a load_module the
// compiler inlined. Seen in the guests: 6.1 "add_taint+0x16 load_module+0x170d
// __do_sys_finit_module+0xac", 7.3 "add_taint+0x1a load_module+0x1922
// init_module_from_file+0xd6 idempotent_init_module+0x114
// __x64_sys_finit_module+0x71".
constexpr std::string_view kLoader[] = {
    "load_module",          "module_augment_kernel_taints", "module_license_taint_check",
    "check_modinfo",        "check_modinfo_livepatch",      "set_license",
    "try_to_force_load",    "check_version",                "check_modstruct_version",
    "early_mod_check",      "layout_and_allocate",          "module_sig_check",
    "setup_load_info",      "simplify_symbols",             "resolve_symbol",
    "resolve_symbol_wait",  "inherit_taint",                "init_module_from_file",
    "idempotent_init_module", "__do_sys_finit_module",      "__do_sys_init_module",
    "__x64_sys_finit_module", "__x64_sys_init_module",      "__se_sys_finit_module",
    "__se_sys_init_module", "__arm64_sys_finit_module",     "__arm64_sys_init_module",
};

template <size_t N>
bool In(const std::string_view (&set)[N], std::string_view fn) {
  for (std::string_view s : set) {
    if (fn == s) return true;
  }
  return false;
}

const Attribution::Field* Get(const Attribution& a, std::string_view key) {
  for (const Attribution::Field& f : a.fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

Attribution::Field* Get(Attribution* a, std::string_view key) {
  for (Attribution::Field& f : a->fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

double Number(const Attribution& a, std::string_view key, double fallback) {
  const Attribution::Field* f = Get(a, key);
  return f != nullptr && f->kind == Attribution::Field::kNumber ? f->number : fallback;
}

}  // namespace

std::string_view FrameFunction(std::string_view frame) {
  size_t end = frame.find_first_of("+ ");
  std::string_view fn = frame.substr(0, end);
  // Compiler clones: "__warn.cold", "set_license.isra.0", "load_module.constprop.0".
  size_t dot = fn.find('.', 1);
  if (dot != std::string_view::npos) fn = fn.substr(0, dot);
  return fn;
}

bool FromModuleLoader(const std::vector<std::string>& stack) {
  for (const std::string& frame : stack) {
    std::string_view fn = FrameFunction(frame);
    if (In(kSetters, fn)) continue;
    // The first frame past the setters decides: hex (unsymbolized) or a
    // module's code is never the loader.
    return frame.find(" [") == std::string::npos && In(kLoader, fn);
  }
  return false;
}

void MergeWatchpointCause(Attribution* held, const Attribution& newer) {
  if (held->empty() || Number(*held, "tid", -1) != Number(newer, "tid", -2)) {
    *held = newer;
    return;
  }
  if (Attribution::Field* bits = Get(held, "bits")) {
    const uint32_t a = static_cast<uint32_t>(bits->number);
    const uint32_t b = static_cast<uint32_t>(Number(newer, "bits", 0));
    bits->number = static_cast<double>(a | b);
  }
  if (Attribution::Field* samples = Get(held, "samples")) samples->number += Number(newer, "samples", 0);
  if (Attribution::Field* writers = Get(held, "writers")) {
    const double w = Number(newer, "writers", 1);
    if (w > writers->number) writers->number = w;
  }
  const Attribution::Field* after = Get(newer, "after");
  Attribution::Field* mine = Get(held, "after");
  if (after != nullptr && mine != nullptr) mine->text = after->text;
}

}  // namespace kt::modload
