// Module init. Everything the addon owns lives in one KernelTaintAddon per
// Node environment (main thread, each Worker, each Electron context), so the
// addon is context-aware and nothing is kept in statics that could outlive an
// environment.
#include <napi.h>

#include <chrono>
#include <memory>
#include <vector>

#include "reader.h"
#include "sys_error.h"
#include "watch_loop.h"

namespace kt {

class KernelTaintAddon : public Napi::Addon<KernelTaintAddon> {
 public:
  KernelTaintAddon(Napi::Env env, Napi::Object exports) : watch_(env) {
    DefineAddon(exports, {
                             InstanceMethod("openReader", &KernelTaintAddon::OpenReader),
                             InstanceMethod("readValue", &KernelTaintAddon::ReadValue),
                             InstanceMethod("closeReader", &KernelTaintAddon::CloseReader),
                             InstanceMethod("parseText", &KernelTaintAddon::ParseText),
                             InstanceMethod("_benchRead", &KernelTaintAddon::BenchRead),
                             InstanceMethod("watchAdd", &KernelTaintAddon::WatchAdd),
                             InstanceMethod("watchRemove", &KernelTaintAddon::WatchRemove),
                             InstanceMethod("watchRef", &KernelTaintAddon::WatchRef),
                             InstanceMethod("watchUnref", &KernelTaintAddon::WatchUnref),
                             InstanceMethod("watchStats", &KernelTaintAddon::WatchStats),
                         });
  }

 private:
  // openReader(path) -> handle (number) | {errno, syscall, path}
  Napi::Value OpenReader(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
      Napi::TypeError::New(env, "openReader: expected a path string").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto reader = std::make_unique<Reader>(info[0].As<Napi::String>().Utf8Value());
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

  Reader* Lookup(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsNumber()) return nullptr;
    int64_t h = info[0].As<Napi::Number>().Int64Value();
    if (h < 0 || static_cast<size_t>(h) >= readers_.size()) return nullptr;
    return readers_[static_cast<size_t>(h)].get();
  }

  // readValue(handle) -> number | {errno, syscall, path, reason?, content?}
  // The hot path: no allocation on success.
  Napi::Value ReadValue(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Reader* r = Lookup(info);
    if (r == nullptr) {
      Napi::TypeError::New(env, "readValue: unknown reader handle").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    uint32_t value = 0;
    SysError err;
    if (!r->Read(&value, &err)) return SysErrorToObject(env, err);
    return Napi::Number::New(env, static_cast<double>(value));
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
