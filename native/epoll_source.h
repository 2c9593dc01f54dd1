// An event source of the watch loop (native/watch_loop.h): one or more fds in
// the loop's epoll set that signal "the taint value may have changed", plus,
// optionally, what the source knows about the cause (an attribution).
//
// The built-in sources are the uevent socket (triggers/uevent.h) and /dev/kmsg
// (triggers/kmsg.h); perf-event and tracepoint sources plug in the same way.
// To add one:
//   1. implement EpollSource (a class in its own file under native/, listed in
//      native/sources.txt);
//   2. give it a Trigger bit and a name (watch_loop.h) and construct it in
//      WatchLoop::WatchLoop (the one list of sources);
//   3. add the name to NativeTrigger/WATCH_TRIGGERS in lib/binding.ts and
//      lib/watch.ts.
// Nothing in WatchLoop::Run() changes: the loop opens a source when the first
// watch requests its trigger and closes it when the last one is removed, puts
// its fds in epoll, calls OnReadable() for each readable fd, re-reads the
// watches that use it when OnReadable() says so, and hands its attribution to
// the watch's next reported change.
//
// Threading: every method is called with the loop's mutex held, Open/Close on
// the JS thread or the loop thread, the rest on the loop thread. A source must
// never block: its fds are non-blocking and OnReadable() reads until EAGAIN.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sys_error.h"

namespace kt {

// What a source knows about the cause of a change, as flat key/value fields
// (JS: an object of strings, numbers and string arrays). The kmsg source
// reports {line: "WARNING: CPU: 1 PID: 42 at ..."}; a perf source could
// report {pid: 42, comm: "insmod", stack: ["add_taint+0x..", ...]}.
struct Attribution {
  struct Field {
    enum Kind { kText, kNumber, kList };
    std::string key;
    Kind kind = kText;
    double number = 0;
    std::string text;
    std::vector<std::string> list;
  };
  std::vector<Field> fields;

  void Add(const char* key, std::string text) { fields.push_back({key, Field::kText, 0, std::move(text), {}}); }
  void Add(const char* key, double number) { fields.push_back({key, Field::kNumber, number, std::string(), {}}); }
  void Add(const char* key, std::vector<std::string> list) {
    fields.push_back({key, Field::kList, 0, std::string(), std::move(list)});
  }
  bool empty() const { return fields.empty(); }
};

// The causes of one delivery as one JSON object text: {"<source>": {"<field>": string | number | [string]}}
// (defined in watch_loop.cc).
void CausesJson(const std::vector<std::pair<const char*, Attribution>>& causes, std::string* out);

class EpollSource {
 public:
  virtual ~EpollSource() = default;

  // Opens the fds (non-blocking). False, with err filled, when the source
  // cannot work here: a failed system call (err->err = errno, err->syscall,
  // err->path), or err->reason = "unavailable" with a plain-words
  // err->content ("needs CAP_SYS_ADMIN", "no tracefs"). The watches that
  // asked for it run without it and 'ready' names it with that reason.
  virtual bool Open(SysError* err) = 0;
  virtual void Close() = 0;
  virtual bool open() const = 0;
  // The fds to wait on while open, in a stable order: OnReadable gets the
  // index of the readable one (a perf source may have one fd per CPU).
  virtual void Fds(std::vector<int>* out) const = 0;

  // fds[slot] is readable: consume everything queued (until EAGAIN). Returns
  // whether the watches that use this source must re-read the taint value.
  // A source that records a cause calls Attribute() for it.
  virtual bool OnReadable(size_t slot) = 0;

  // A change was noticed by another trigger in a wakeup in which this source
  // was not readable (yet): consume what is queued now, so a cause that raced
  // with the change goes with it. Returns what OnReadable would.
  virtual bool CatchUp() { return false; }

  // The latest cause, built on demand (only when a change takes it, so an idle
  // source allocates nothing). Called only after Attribute() was called.
  virtual void Describe(Attribution* out) const = 0;

  // Named cumulative counters for watchStats() (e.g. {"kmsgRecords", 12}).
  virtual void Stats(std::vector<std::pair<const char*, uint64_t>>* out) const = 0;

  // How many causes this source has recorded over its life (across
  // Close/Open). A watch remembers the count it last took; a larger one means
  // a newer cause is available from Describe().
  uint64_t attribution_count() const { return attribution_count_; }

 protected:
  void Attribute() { ++attribution_count_; }

 private:
  uint64_t attribution_count_ = 0;
};

}  // namespace kt
