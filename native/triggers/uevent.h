// The kernel's uevent netlink socket. Load-time taints (O, E, P, C, K, N, X, J)
// are set by load_module() before it sends the module's "add" uevent, so a
// re-read on that uevent sees them. Any other uevent is used as a cheap hint
// (one pread); a busy system sends few of them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../epoll_source.h"
#include "../sys_error.h"
#include "../unique_fd.h"

namespace kt {

// Whether a raw uevent ("add@/module/x\0ACTION=add\0...SUBSYSTEM=module\0...")
// announces a module load.
bool UeventIsModuleAdd(const char* buf, size_t len);

// The uevent source of the watch loop. A module "add" is the precise signal;
// any other uevent is a cheap hint worth one pread. Both re-read, and both are
// reported as 'uevent'. No attribution.
class UeventTrigger final : public EpollSource {
 public:
  bool Open(SysError* err) override;
  void Close() override { fd_.reset(); }
  bool open() const override { return fd_.valid(); }
  void Fds(std::vector<int>* out) const override { out->push_back(fd_.get()); }
  // Reads every queued message; re-read on any message, or when the socket
  // buffer overflowed (ENOBUFS: events were dropped).
  bool OnReadable(size_t slot) override;
  void Describe(Attribution* /*out*/) const override {}
  void Stats(std::vector<std::pair<const char*, uint64_t>>* out) const override;

 private:
  UniqueFd fd_;
  // module_events_: module add/remove uevents plus overflows (events maybe
  // lost). JS reads it through watchStats() as the generation of the module
  // list: lib/modules.ts re-reads the list when it moved.
  uint64_t messages_ = 0, module_adds_ = 0, module_events_ = 0;
};

}  // namespace kt
