// Test-only entry points for the attribution parsers (exports._attribution):
// they take bytes and text, never touch kernel state, and let the unit tests
// and the sanitizer exercise drive the ring reader, the kallsyms symbolizer and
// the tracefs format parser with synthetic and adversarial input. Internal:
// not part of the package's API (lib/binding.ts marks them @internal).
#pragma once

#include <napi.h>

namespace kt {

Napi::Object AttributionTestApi(Napi::Env env);

}  // namespace kt
