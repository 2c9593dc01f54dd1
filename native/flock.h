// flock(2) for the journal: Node has no binding for it, and a lock on the
// journal's own descriptor is the only one that holds across symlinks, hard
// links and PID namespaces (the kernel keys it on the open file).
#pragma once

#include <napi.h>

namespace kt {

// flock(fd, mode) where mode is "ex" (LOCK_EX|LOCK_NB) or "un" (LOCK_UN):
// returns 0, or {errno, syscall: 'flock'} (EWOULDBLOCK when another open file
// holds the lock). Throws TypeError on bad arguments.
Napi::Value Flock(const Napi::CallbackInfo& info);

}  // namespace kt
