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
  // "empty", "invalid", "range", "long" (more than 32 bytes), "type" (not a
  // regular file: content names the type), "unused" (a trigger that needs
  // something this watch does not have, e.g. poll with interval 0).
  const char* reason = nullptr;
  std::string content;
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
