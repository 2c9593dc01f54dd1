// /sys/kernel/warn_count and /sys/kernel/oops_count (Linux 6.2+): sysfs files
// with no change notification, so they are re-read (one pread each) on every
// wakeup of the loop and on the poll timer. A change names 'counter' as the
// trigger: a WARN or an oops happened, which is what set W or D.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "../reader.h"

namespace kt {

class CounterSet {
 public:
  struct Counter {
    std::unique_ptr<Reader> reader;
    uint32_t last = 0;
    bool changed = false;  // by the last Check()
    int refs = 0;
  };

  // Starts tracking path (refcounted by watch). Returns nullptr, with err
  // filled, when it cannot be opened and read: absent on kernels before 6.2,
  // which the watcher reports in 'ready', not as an error.
  const Counter* Add(const std::string& path, SysError* err);
  void Remove(const std::string& path);
  void Clear() { counters_.clear(); }
  bool empty() const { return counters_.empty(); }

  // Re-reads every counter; returns whether any changed. reads counts the preads.
  bool Check(uint64_t* reads);

 private:
  std::map<std::string, Counter> counters_;  // node-based: Counter* stays valid
};

}  // namespace kt
