// The kernel's uevent netlink socket. Load-time taints (O, E, P, C, K, N, X, J)
// are set by load_module() before it sends the module's "add" uevent, so a
// re-read on that uevent sees them. Any other uevent is used as a cheap hint
// (one pread); a busy system sends few of them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../sys_error.h"
#include "../unique_fd.h"

namespace kt {

// Whether a raw uevent ("add@/module/x\0ACTION=add\0...SUBSYSTEM=module\0...")
// announces a module load.
bool UeventIsModuleAdd(const char* buf, size_t len);

class UeventTrigger {
 public:
  bool Open(SysError* err);
  void Close() { fd_.reset(); }
  bool open() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }

  struct Drained {
    uint32_t messages = 0;
    uint32_t module_adds = 0;
    bool overrun = false;  // ENOBUFS: events were dropped, re-read to be safe
  };
  Drained Drain();

 private:
  UniqueFd fd_;
};

}  // namespace kt
