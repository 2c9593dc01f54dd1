#include "flock.h"

#include <sys/file.h>

#include <cerrno>
#include <string>

#include "sys_error.h"

namespace kt {

Napi::Value Flock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsString()) {
    Napi::TypeError::New(env, "flock: expected (fd, 'ex' | 'un')").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int fd = info[0].As<Napi::Number>().Int32Value();
  const std::string mode = info[1].As<Napi::String>().Utf8Value();
  int op;
  if (mode == "ex") {
    op = LOCK_EX | LOCK_NB;
  } else if (mode == "un") {
    op = LOCK_UN;
  } else {
    Napi::TypeError::New(env, "flock: mode must be 'ex' or 'un'").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (RetryEintr([&] { return ::flock(fd, op); }) == 0) return Napi::Number::New(env, 0);
  SysError err;
  err.err = errno;
  err.syscall = "flock";
  return SysErrorToObject(env, err);
}

}  // namespace kt
