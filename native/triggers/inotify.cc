#include "inotify.h"

#include <errno.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstring>

namespace kt {

namespace {
constexpr uint32_t kMask = IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
constexpr uint32_t kDirMask = IN_CREATE | IN_MOVED_TO | IN_ONLYDIR;
}  // namespace

bool InotifyTrigger::Open(SysError* err) {
  int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) {
    err->err = errno;
    err->syscall = "inotify_init1";
    return false;
  }
  fd_.reset(fd);
  return true;
}

void InotifyTrigger::Close() {
  fd_.reset();
  refs_.clear();
}

int InotifyTrigger::Add(const std::string& path, SysError* err) { return AddMask(path, kMask, err); }
int InotifyTrigger::AddDir(const std::string& dir, SysError* err) { return AddMask(dir, kDirMask, err); }

int InotifyTrigger::AddMask(const std::string& path, uint32_t mask, SysError* err) {
  int wd = inotify_add_watch(fd_.get(), path.c_str(), mask);
  if (wd < 0) {
    err->err = errno;
    err->syscall = "inotify_add_watch";
    err->path = path;
    return -1;
  }
  ++refs_[wd];
  return wd;
}

void InotifyTrigger::Remove(int wd) {
  if (wd < 0) return;
  auto it = refs_.find(wd);
  if (it == refs_.end()) return;  // already dropped by the kernel (IN_IGNORED)
  if (--it->second > 0) return;
  refs_.erase(it);
  inotify_rm_watch(fd_.get(), wd);
}

void InotifyTrigger::Drain(std::vector<int>* hit, std::vector<int>* gone) {
  alignas(struct inotify_event) char buf[4096];
  for (;;) {
    ssize_t n = RetryEintr([&] { return ::read(fd_.get(), buf, sizeof buf); });
    if (n <= 0) return;  // EAGAIN: drained
    for (ssize_t off = 0; off < n;) {
      struct inotify_event ev;
      std::memcpy(&ev, buf + off, sizeof ev);
      off += static_cast<ssize_t>(sizeof ev + ev.len);
      if (ev.mask & IN_Q_OVERFLOW) {
        hit->push_back(kAll);
        continue;
      }
      if (ev.mask & IN_IGNORED) {
        // Also sent after our own inotify_rm_watch; only report wds still in use.
        auto it = refs_.find(ev.wd);
        if (it != refs_.end()) {
          refs_.erase(it);
          gone->push_back(ev.wd);
        }
        continue;
      }
      hit->push_back(ev.wd);
    }
  }
}

}  // namespace kt
