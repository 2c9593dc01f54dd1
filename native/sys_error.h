// A failed system call, carried as numbers so that the TypeScript side can
// build a Node-style error (code from util.getSystemErrorName, negative errno,
// syscall, path) instead of parsing strerror text.
#pragma once

#include <napi.h>

#include <string>

namespace kt {

struct SysError {
  int err = 0;            // positive errno, or 0 when there is no error
  const char* syscall = "";
  std::string path;
  // For content errors (the file was read but does not hold a taint value).
  const char* reason = nullptr;  // "empty", "invalid", "range"
  std::string content;

  bool ok() const noexcept { return err == 0 && reason == nullptr; }
};

// Describes the error as a plain object {errno, syscall, path, reason?, content?}.
Napi::Object SysErrorToObject(Napi::Env env, const SysError& e);

// Retries a system call that failed with EINTR.
template <typename F>
auto RetryEintr(F&& f) -> decltype(f()) {
  decltype(f()) r;
  do {
    r = f();
  } while (r == -1 && errno == EINTR);
  return r;
}

}  // namespace kt
