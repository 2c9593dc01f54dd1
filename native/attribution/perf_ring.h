// Reading perf_event mmap rings and decoding their records, without any
// kernel state: the functions take the ring's bytes and positions, so the
// unit tests drive them with synthetic buffers (wrap-around, lost records,
// several CPUs, malformed headers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kt::perf {

// perf_event_header.type values used here (linux/perf_event.h).
constexpr uint32_t kRecordLost = 2;
constexpr uint32_t kRecordComm = 3;
constexpr uint32_t kRecordSample = 9;

// sample_type bits this parser understands, in the kernel's output order.
constexpr uint64_t kSampleIp = 1u << 0;
constexpr uint64_t kSampleTid = 1u << 1;
constexpr uint64_t kSampleTime = 1u << 2;
constexpr uint64_t kSampleAddr = 1u << 3;
constexpr uint64_t kSampleId = 1u << 6;
constexpr uint64_t kSampleCpu = 1u << 7;
constexpr uint64_t kSamplePeriod = 1u << 8;
constexpr uint64_t kSampleStreamId = 1u << 9;
constexpr uint64_t kSampleCallchain = 1u << 5;
constexpr uint64_t kSampleRaw = 1u << 10;
constexpr uint64_t kSampleIdentifier = 1u << 16;
constexpr uint64_t kSupportedSampleType = kSampleIp | kSampleTid | kSampleTime | kSampleAddr | kSampleId | kSampleCpu |
                                          kSamplePeriod | kSampleStreamId | kSampleCallchain | kSampleRaw |
                                          kSampleIdentifier;

// Callchain entries at or above this are PERF_CONTEXT_* markers, not addresses.
constexpr uint64_t kContextMax = static_cast<uint64_t>(-4095);

constexpr size_t kMaxCallchain = 128;  // entries kept (the kernel caps at 127 by default)
constexpr size_t kMaxRecord = 65535;   // perf_event_header.size is a u16

struct Sample {
  uint64_t ip = 0;
  uint32_t pid = 0, tid = 0;
  uint64_t time = 0;
  uint64_t addr = 0;
  uint32_t cpu = 0;
  std::vector<uint64_t> callchain;  // PERF_CONTEXT_* markers removed
  std::vector<uint8_t> raw;         // PERF_SAMPLE_RAW payload (tracepoint record)
};

// Decodes a PERF_RECORD_SAMPLE body (the bytes after perf_event_header).
// False when the body is shorter than sample_type says, or sample_type has a
// bit this parser does not know (it could not find the later fields).
bool ParseSample(const uint8_t* body, size_t len, uint64_t sample_type, Sample* out);

// PERF_RECORD_LOST body: { u64 id; u64 lost; }. False when too short.
bool ParseLost(const uint8_t* body, size_t len, uint64_t* lost);

// PERF_RECORD_COMM body: { u32 pid, tid; char comm[]; }. False when too short.
bool ParseComm(const uint8_t* body, size_t len, uint32_t* pid, uint32_t* tid, std::string* comm);

// One record copied out of the ring (contiguous even when it wrapped).
struct Record {
  uint32_t type = 0;
  uint16_t misc = 0;
  std::vector<uint8_t> body;
};

struct DrainResult {
  uint64_t tail = 0;      // new data_tail to publish
  uint64_t records = 0;   // records read
  bool malformed = false; // a header was impossible (size < 8, or beyond head): the rest was skipped
};

// Reads the records between tail and head of a ring whose data area is
// data[0..size) (size a power of two, as the kernel maps it). Calls
// fn(const Record&) for each, in order, and returns the tail to publish.
// A malformed header skips to head: the reader never loops or reads out of
// the data area, whatever the bytes say.
template <typename Fn>
DrainResult DrainRing(const uint8_t* data, uint64_t size, uint64_t head, uint64_t tail, Fn&& fn);

// Non-template core of DrainRing: copies the record at tail into rec.
// Returns its total size (header included), or 0 when malformed.
size_t CopyRecord(const uint8_t* data, uint64_t size, uint64_t head, uint64_t tail, Record* rec);

template <typename Fn>
DrainResult DrainRing(const uint8_t* data, uint64_t size, uint64_t head, uint64_t tail, Fn&& fn) {
  DrainResult r;
  Record rec;
  // head - tail larger than the ring means the writer lapped us (or the
  // positions are garbage): nothing in between can be trusted.
  if (size == 0 || (size & (size - 1)) != 0 || head < tail || head - tail > size) {
    r.tail = head;
    r.malformed = head != tail;
    return r;
  }
  while (tail < head) {
    size_t n = CopyRecord(data, size, head, tail, &rec);
    if (n == 0) {
      r.malformed = true;
      tail = head;
      break;
    }
    tail += n;
    ++r.records;
    fn(static_cast<const Record&>(rec));
  }
  r.tail = tail;
  return r;
}

}  // namespace kt::perf
