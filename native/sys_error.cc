#include "sys_error.h"

namespace kt {

Napi::Object SysErrorToObject(Napi::Env env, const SysError& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("errno", Napi::Number::New(env, e.err));
  o.Set("syscall", Napi::String::New(env, e.syscall));
  o.Set("path", Napi::String::New(env, e.path));
  if (e.reason != nullptr) {
    o.Set("reason", Napi::String::New(env, e.reason));
    o.Set("content", Napi::String::New(env, e.content));
  }
  return o;
}

}  // namespace kt
