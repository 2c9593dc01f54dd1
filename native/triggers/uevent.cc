#include "uevent.h"

#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cstring>

namespace kt {

namespace {
// Scans the NUL-separated "KEY=value" strings after the "action@devpath" header.
void ScanUevent(const char* buf, size_t len, bool* add, bool* module) {
  *add = false;
  *module = false;
  for (size_t i = 0; i < len;) {
    const char* s = buf + i;
    size_t n = strnlen(s, len - i);
    if (n == 10 && std::memcmp(s, "ACTION=add", 10) == 0) *add = true;
    if (n == 16 && std::memcmp(s, "SUBSYSTEM=module", 16) == 0) *module = true;
    i += n + 1;
  }
}
}  // namespace

bool UeventIsModuleAdd(const char* buf, size_t len) {
  bool add, module;
  ScanUevent(buf, len, &add, &module);
  return add && module;
}

bool UeventTrigger::Open(SysError* err) {
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
  if (fd < 0) {
    err->err = errno;
    err->syscall = "socket";
    return false;
  }
  UniqueFd owned(fd);
  struct sockaddr_nl sa;
  std::memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = 1;  // group 1: the kernel's own events (udevd re-broadcasts on group 2)
  if (::bind(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) < 0) {
    err->err = errno;
    err->syscall = "bind";
    return false;
  }
  fd_ = std::move(owned);
  return true;
}

bool UeventTrigger::OnReadable(size_t /*slot*/) {
  if (!fd_.valid()) return false;
  bool reread = false;
  char buf[8192];
  for (;;) {
    struct sockaddr_nl sa;
    struct iovec iov = {buf, sizeof buf};
    struct msghdr msg;
    std::memset(&msg, 0, sizeof msg);
    msg.msg_name = &sa;
    msg.msg_namelen = sizeof sa;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = RetryEintr([&] { return ::recvmsg(fd_.get(), &msg, 0); });
    if (n < 0) {
      if (errno == ENOBUFS) {  // the socket buffer overflowed; the next recv works
        reread = true;
        ++module_events_;  // a module event may be among the lost ones
        continue;
      }
      return reread;  // EAGAIN: drained
    }
    // Only the kernel (port 0) sends on group 1; ignore anything else.
    if (sa.nl_pid != 0) continue;
    ++messages_;
    reread = true;
    size_t len = static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf;
    bool add, module;
    ScanUevent(buf, len, &add, &module);
    if (module) ++module_events_;
    if (add && module) ++module_adds_;
  }
}

void UeventTrigger::Stats(std::vector<std::pair<const char*, uint64_t>>* out) const {
  out->emplace_back("ueventMessages", messages_);
  out->emplace_back("ueventModuleAdds", module_adds_);
  out->emplace_back("ueventModuleEvents", module_events_);
}

}  // namespace kt
