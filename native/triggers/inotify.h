// inotify on the watched taint files: catches userspace writes to the sysctl
// (and, in tests, to temp files). The kernel's own add_taint() does not notify,
// which is why the loop has other triggers.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "../sys_error.h"
#include "../unique_fd.h"

namespace kt {

class InotifyTrigger {
 public:
  // One instance per loop, shared by all its watches: a user gets 128 inotify
  // instances by default (fs.inotify.max_user_instances), so one per watcher
  // would fail after a hundred watchers across processes.
  bool Open(SysError* err);
  void Close();
  bool open() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }

  // Watches path for writes, truncation, unlink (IN_ATTRIB: the link count
  // changes while we keep the file open) and rename. The kernel hands out the
  // same wd for the same inode, so wds are refcounted. Returns -1 and fills err
  // on failure (ENOSPC when fs.inotify.max_user_watches is reached).
  int Add(const std::string& path, SysError* err);
  // Watches directory dir for entries created or moved in (IN_CREATE,
  // IN_MOVED_TO): a watch whose file is missing re-tries its path on each.
  // Refcounted like Add.
  int AddDir(const std::string& dir, SysError* err);
  // Drops one reference; removes the kernel watch with the last one.
  void Remove(int wd);

  // Reads every queued event. hit gets the wds that saw an event (kAll after a
  // queue overflow: every watch must re-read); gone gets the wds the kernel
  // dropped by itself (IN_IGNORED: the file was deleted or unmounted).
  static constexpr int kAll = -1;
  void Drain(std::vector<int>* hit, std::vector<int>* gone);

 private:
  int AddMask(const std::string& path, uint32_t mask, SysError* err);

  UniqueFd fd_;
  std::unordered_map<int, int> refs_;
};

}  // namespace kt
