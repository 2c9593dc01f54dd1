// Tracepoint metadata from tracefs, read-only: the mount point (from
// /proc/self/mounts, never mounted by us), an event's id, and its `format`
// file parsed into field offsets, so raw sample records are decoded by what
// the running kernel says rather than by hard-coded offsets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kt {

struct TraceField {
  std::string type;   // "unsigned int", "__data_loc char[]", "enum error_detector"
  std::string name;   // "taints"
  uint32_t offset = 0, size = 0;
  bool is_signed = false;
  bool data_loc = false;  // __data_loc: a u32 { u16 offset; u16 length; } pointing into the record
};

struct TraceFormat {
  std::string name;
  int64_t id = -1;  // from the format's "ID:" line, -1 when absent
  std::vector<TraceField> fields;
  const TraceField* Find(std::string_view name) const;
};

// Parses a tracefs `format` file. False (with a reason) when it has no field
// lines, or a field line is malformed.
bool ParseTraceFormat(std::string_view text, TraceFormat* out, std::string* reason);

// Where tracefs is mounted: the first `tracefs` line of mounts_text (fields
// octal-unescaped), else "" (the caller then tries /sys/kernel/tracing and
// /sys/kernel/debug/tracing, if they hold an `events` directory).
std::string TracefsFromMounts(std::string_view mounts_text);

// The tracefs root to read `events/*/format` from: the mount named in
// mounts_text, else the first of `fallbacks` that holds an `events`
// directory. "" when none does, with *reason in plain words: a tracefs that
// is there but not searchable (mode 700 for a non-root reader) says
// "Permission denied (needs ...)", not "no tracefs mounted".
std::string LocateTracefs(std::string_view mounts_text, const std::vector<std::string>& fallbacks,
                          std::string* reason);

// Reads an unsigned field of `size` 1, 2, 4 or 8 from a raw record. False when
// it does not fit in the record.
bool ReadUnsigned(const std::vector<uint8_t>& raw, const TraceField& f, uint64_t* out);
// Reads a __data_loc string (without its NUL). False when out of bounds.
bool ReadDataLocString(const std::vector<uint8_t>& raw, const TraceField& f, std::string* out);

}  // namespace kt
