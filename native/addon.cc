// Module init. Everything the addon owns lives in one KernelTaintAddon per
// Node environment (main thread, each Worker, each Electron context), so the
// addon is context-aware and nothing is kept in statics that could outlive an
// environment.
#include <napi.h>

#include <chrono>
#include <memory>
#include <vector>

#include "attribution/test_api.h"
#include "flock.h"
#include "reader.h"
#include "sys_error.h"
#include "triggers/kmsg.h"
#include "watch_loop.h"

namespace kt {

class KernelTaintAddon : public Napi::Addon<KernelTaintAddon> {
 public:
  KernelTaintAddon(Napi::Env env, Napi::Object exports) : watch_(env) {
    DefineAddon(exports, {
                             InstanceMethod("openReader", &KernelTaintAddon::OpenReader),
                             InstanceMethod("closeReader", &KernelTaintAddon::CloseReader),
                             InstanceMethod("parseText", &KernelTaintAddon::ParseText),
                             InstanceMethod("_benchRead", &KernelTaintAddon::BenchRead),
                             InstanceMethod("_kmsgSignalsTaint", &KernelTaintAddon::KmsgSignalsTaint),
                             InstanceMethod("watchAdd", &KernelTaintAddon::WatchAdd),
                             InstanceMethod("watchRemove", &KernelTaintAddon::WatchRemove),
                             InstanceMethod("watchRef", &KernelTaintAddon::WatchRef),
                             InstanceMethod("watchUnref", &KernelTaintAddon::WatchUnref),
                             InstanceMethod("watchStats", &KernelTaintAddon::WatchStats),
                         });
    // readValue is the hot path of readTaintValue(): a plain Node-API callback
    // with this instance as its data, so that a call costs one
    // napi_get_cb_info and one napi_get_value_int64 instead of node-addon-api's
    // wrapper (an unwrap of the exports object, a typeof and a conversion).
    // It measured ~50 ns (~6 %) faster per call in bench/read.mjs.
    napi_value read_value;
    NAPI_THROW_IF_FAILED_VOID(
        env, napi_create_function(env, "readValue", NAPI_AUTO_LENGTH, &KernelTaintAddon::ReadValue, this, &read_value));
    exports.Set("readValue", Napi::Value(env, read_value));
    // Test-only: the attribution parsers on synthetic input (lib/binding.ts, @internal).
    exports.Set("_attribution", AttributionTestApi(env));
    exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  }

 private:
  // openReader(path) -> handle (number) | {errno, syscall, path, reason?, content?}
  // (reason "type": not a regular file; see Reader::Open)
  Napi::Value OpenReader(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
      Napi::TypeError::New(env, "openReader: expected a path string").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::string path = info[0].As<Napi::String>().Utf8Value();
    if (path.empty() || path.find('\0') != std::string::npos) {
      Napi::TypeError::New(env, "openReader: the path must be non-empty and without NUL").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto reader = std::make_unique<Reader>(std::move(path));
    SysError err;
    if (!reader->Open(&err)) return SysErrorToObject(env, err);
    // Reuse a free slot so that handles stay small and the table does not grow
    // with open/close cycles.
    for (size_t i = 0; i < readers_.size(); ++i) {
      if (!readers_[i]) {
        readers_[i] = std::move(reader);
        return Napi::Number::New(env, static_cast<double>(i));
      }
    }
    readers_.push_back(std::move(reader));
    return Napi::Number::New(env, static_cast<double>(readers_.size() - 1));
  }

  Reader* Lookup(const Napi::CallbackInfo& info) const {
    if (info.Length() < 1 || !info[0].IsNumber()) return nullptr;
    int64_t h = info[0].As<Napi::Number>().Int64Value();
    if (h < 0 || static_cast<size_t>(h) >= readers_.size()) return nullptr;
    return readers_[static_cast<size_t>(h)].get();
  }

  // readValue(handle) -> number | {errno, syscall, path, reason?, content?}
  // The hot path: no allocation and three Node-API calls on success.
  static napi_value ReadValue(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    napi_value argv[1];
    void* data = nullptr;
    int64_t h = -1;
    if (napi_get_cb_info(env, info, &argc, argv, nullptr, &data) != napi_ok) return nullptr;
    auto* self = static_cast<KernelTaintAddon*>(data);
    Reader* r = nullptr;
    if (argc >= 1 && napi_get_value_int64(env, argv[0], &h) == napi_ok && h >= 0 &&
        static_cast<size_t>(h) < self->readers_.size()) {
      r = self->readers_[static_cast<size_t>(h)].get();
    }
    if (r == nullptr) {
      napi_throw_type_error(env, nullptr, "readValue: unknown reader handle");
      return nullptr;
    }
    uint32_t value = 0;
    SysError err;
    if (!r->Read(&value, &err)) {
      // node-addon-api throws C++ exceptions (out of memory, a pending JS
      // exception); none may escape a plain Node-API callback.
      try {
        return SysErrorToObject(Napi::Env(env), err);
      } catch (const Napi::Error& e) {
        e.ThrowAsJavaScriptException();
        return nullptr;
      }
    }
    napi_value out = nullptr;
    napi_create_uint32(env, value, &out);
    return out;
  }

  Napi::Value CloseReader(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() >= 1 && info[0].IsNumber()) {
      int64_t h = info[0].As<Napi::Number>().Int64Value();
      if (h >= 0 && static_cast<size_t>(h) < readers_.size()) readers_[static_cast<size_t>(h)].reset();
    }
    return env.Undefined();
  }

  // _benchRead(handle, n) -> ns per read: n preads + parses in a C++ loop
  // inside this process, for `npm run bench` to separate the cost of the
  // syscall in a Node process from the cost of the JS -> native call.
  Napi::Value BenchRead(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Reader* r = Lookup(info);
    if (r == nullptr || info.Length() < 2 || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "_benchRead: expected (handle, count)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    int64_t n = info[1].As<Napi::Number>().Int64Value();
    if (n <= 0) n = 1;
    uint32_t value = 0;
    uint64_t sink = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n; ++i) {
      SysError err;
      if (!r->Read(&value, &err)) return SysErrorToObject(env, err);
      sink += value;
    }
    auto t1 = std::chrono::steady_clock::now();
    double ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(n);
    return Napi::Number::New(env, ns + static_cast<double>(sink & 0));
  }

  // parseText(string) -> number | {reason, content}: the native parser, exposed
  // so tests can hold it to the same cases as the file path.
  Napi::Value ParseText(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
      Napi::TypeError::New(env, "parseText: expected a string").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::string s = info[0].As<Napi::String>().Utf8Value();
    uint32_t value = 0;
    SysError err;
    if (!ParseTaintText(s.data(), s.size(), &value, &err)) return SysErrorToObject(env, err);
    return Napi::Number::New(env, static_cast<double>(value));
  }

  // _kmsgSignalsTaint(string) -> boolean: the kmsg trigger's line matcher,
  // exposed so tests hold it to the same kernel log lines as lib/kmsg-cause.ts
  // without writing to /dev/kmsg.
  Napi::Value KmsgSignalsTaint(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
      Napi::TypeError::New(env, "_kmsgSignalsTaint: expected a string").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::string s = info[0].As<Napi::String>().Utf8Value();
    return Napi::Boolean::New(env, KmsgLineSignalsTaint(s.data(), s.size()));
  }

  // The watch thread of this environment (native/watch_loop.h). Destroyed with
  // the addon instance, which stops and joins the thread if the environment's
  // cleanup hook has not already done so.
  Napi::Value WatchAdd(const Napi::CallbackInfo& info) { return watch_.Add(info); }
  Napi::Value WatchRemove(const Napi::CallbackInfo& info) { return watch_.Remove(info); }
  Napi::Value WatchRef(const Napi::CallbackInfo& info) { return watch_.Ref(info); }
  Napi::Value WatchUnref(const Napi::CallbackInfo& info) { return watch_.Unref(info); }
  Napi::Value WatchStats(const Napi::CallbackInfo& info) { return watch_.Stats(info); }

  std::vector<std::unique_ptr<Reader>> readers_;
  WatchLoop watch_;
};

}  // namespace kt

using KernelTaintAddon = kt::KernelTaintAddon;
NODE_API_ADDON(KernelTaintAddon)
