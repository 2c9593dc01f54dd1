#include "counters.h"

namespace kt {

const CounterSet::Counter* CounterSet::Add(const std::string& path, SysError* err) {
  auto it = counters_.find(path);
  if (it != counters_.end()) {
    ++it->second.refs;
    return &it->second;
  }
  Counter c;
  c.reader = std::make_unique<Reader>(path);
  if (!c.reader->Open(err) || !c.reader->Read(&c.last, err)) return nullptr;
  c.refs = 1;
  return &counters_.emplace(path, std::move(c)).first->second;
}

void CounterSet::Remove(const std::string& path) {
  auto it = counters_.find(path);
  if (it == counters_.end()) return;
  if (--it->second.refs == 0) counters_.erase(it);
}

bool CounterSet::Check(uint64_t* reads) {
  bool any = false;
  for (auto& [path, c] : counters_) {
    uint32_t v = 0;
    SysError err;
    ++*reads;
    // A counter that stops being readable is not a taint change: keep the old value.
    c.changed = c.reader->Read(&v, &err) && v != c.last;
    if (c.changed) {
      c.last = v;
      any = true;
    }
  }
  return any;
}

}  // namespace kt
