// Built on platforms other than Linux: an empty addon, so that node-gyp-build
// finds a binary and the TypeScript side reports ERR_KERNEL_TAINT_UNSUPPORTED.
#include <napi.h>

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return exports; }

NODE_API_MODULE(kernel_taint, Init)
