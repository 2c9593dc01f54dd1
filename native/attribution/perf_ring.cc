#include "perf_ring.h"

#include <algorithm>
#include <cstring>

namespace kt::perf {

namespace {

struct Cursor {
  const uint8_t* p;
  size_t left;
  bool U64(uint64_t* v) {
    if (left < 8) return false;
    std::memcpy(v, p, 8);
    p += 8;
    left -= 8;
    return true;
  }
  bool Skip(size_t n) {
    if (left < n) return false;
    p += n;
    left -= n;
    return true;
  }
};

}  // namespace

bool ParseSample(const uint8_t* body, size_t len, uint64_t sample_type, Sample* out) {
  if ((sample_type & ~kSupportedSampleType) != 0) return false;
  Cursor c{body, len};
  uint64_t v = 0;
  out->callchain.clear();
  out->raw.clear();
  if ((sample_type & kSampleIdentifier) && !c.U64(&v)) return false;
  if ((sample_type & kSampleIp) && !c.U64(&out->ip)) return false;
  if (sample_type & kSampleTid) {
    if (!c.U64(&v)) return false;
    out->pid = static_cast<uint32_t>(v & 0xffffffffu);  // little-endian { u32 pid, tid }
    out->tid = static_cast<uint32_t>(v >> 32);
  }
  if ((sample_type & kSampleTime) && !c.U64(&out->time)) return false;
  if ((sample_type & kSampleAddr) && !c.U64(&out->addr)) return false;
  if ((sample_type & kSampleId) && !c.U64(&v)) return false;
  if ((sample_type & kSampleStreamId) && !c.U64(&v)) return false;
  if (sample_type & kSampleCpu) {
    if (!c.U64(&v)) return false;
    out->cpu = static_cast<uint32_t>(v & 0xffffffffu);  // { u32 cpu, res }
  }
  if ((sample_type & kSamplePeriod) && !c.U64(&v)) return false;
  if (sample_type & kSampleCallchain) {
    uint64_t nr = 0;
    if (!c.U64(&nr)) return false;
    if (nr > c.left / 8) return false;
    for (uint64_t i = 0; i < nr; ++i) {
      c.U64(&v);
      if (v >= kContextMax) continue;
      if (out->callchain.size() < kMaxCallchain) out->callchain.push_back(v);
    }
  }
  if (sample_type & kSampleRaw) {
    if (c.left < 4) return false;
    uint32_t size = 0;
    std::memcpy(&size, c.p, 4);
    c.Skip(4);
    if (size > c.left) return false;
    out->raw.assign(c.p, c.p + size);
    c.Skip(size);
  }
  return true;
}

bool ParseLost(const uint8_t* body, size_t len, uint64_t* lost) {
  if (len < 16) return false;
  std::memcpy(lost, body + 8, 8);
  return true;
}

bool ParseComm(const uint8_t* body, size_t len, uint32_t* pid, uint32_t* tid, std::string* comm) {
  if (len < 8) return false;
  std::memcpy(pid, body, 4);
  std::memcpy(tid, body + 4, 4);
  const char* s = reinterpret_cast<const char*>(body + 8);
  size_t n = 0;
  while (8 + n < len && s[n] != '\0') ++n;
  comm->assign(s, n);
  return true;
}

size_t CopyRecord(const uint8_t* data, uint64_t size, uint64_t head, uint64_t tail, Record* rec) {
  const uint64_t avail = head - tail;
  if (avail < 8) return 0;
  uint8_t hdr[8];
  const uint64_t mask = size - 1;
  for (int i = 0; i < 8; ++i) hdr[i] = data[(tail + i) & mask];
  uint32_t type;
  uint16_t misc, rsize;
  std::memcpy(&type, hdr, 4);
  std::memcpy(&misc, hdr + 4, 2);
  std::memcpy(&rsize, hdr + 6, 2);
  if (rsize < 8 || rsize > avail) return 0;
  rec->type = type;
  rec->misc = misc;
  const size_t body = rsize - 8u;
  rec->body.resize(body);
  // At most two memcpy: up to the end of the data area, then from its start.
  const uint64_t start = (tail + 8) & mask;
  const size_t first = static_cast<size_t>(std::min<uint64_t>(body, size - start));
  if (first > 0) std::memcpy(rec->body.data(), data + start, first);
  if (body > first) std::memcpy(rec->body.data() + first, data, body - first);
  return rsize;
}

}  // namespace kt::perf
