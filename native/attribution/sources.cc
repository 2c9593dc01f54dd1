#include "sources.h"

#include <cstdio>

namespace kt {

namespace {

std::string HexMask(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", v);
  return b;
}

// The fields every report has (JS: TaintAttribution in lib/watch.ts).
void DescribeCommon(const PerfReport& r, Attribution* out) {
  out->Add("pid", static_cast<double>(r.pid));
  out->Add("tid", static_cast<double>(r.tid));
  out->Add("cpu", static_cast<double>(r.cpu));
  out->Add("timeNs", static_cast<double>(r.time_ns));
  if (!r.comm.empty()) out->Add("comm", r.comm);
  if (!r.exe.empty()) out->Add("exe", r.exe);
  if (r.uid >= 0) out->Add("uid", static_cast<double>(r.uid));
  if (!r.site.empty()) out->Add("site", r.site);
  out->Add("bits", static_cast<double>(r.bits));
}

void CommonStats(const char* prefix, const PerfSourceBase::Stats& s,
                 std::vector<std::pair<const char*, uint64_t>>* out) {
  const bool wp = prefix[0] == 'w';
  out->emplace_back(wp ? "watchpointSamples" : "tracepointSamples", s.samples);
  out->emplace_back(wp ? "watchpointReports" : "tracepointReports", s.reports);
  out->emplace_back(wp ? "watchpointLost" : "tracepointLost", s.lost);
  out->emplace_back(wp ? "watchpointMalformed" : "tracepointMalformed", s.malformed);
  out->emplace_back(wp ? "watchpointDrains" : "tracepointDrains", s.drains);
  out->emplace_back(wp ? "watchpointDrainNs" : "tracepointDrainNs", s.drain_ns);
  out->emplace_back(wp ? "watchpointRearms" : "tracepointRearms", s.rearms);
  out->emplace_back(wp ? "watchpointDrainCpuNs" : "tracepointDrainCpuNs", s.drain_cpu_ns);
  if (wp) {
    out->emplace_back("watchpointFillNs", s.fill_ns);
    out->emplace_back("watchpointSymbolizeNs", s.symbolize_ns);
  }
}

}  // namespace

void WatchpointSource::Describe(Attribution* out) const {
  const PerfReport& r = core_.latest();
  DescribeCommon(r, out);
  out->Add("before", HexMask(r.before));
  out->Add("after", HexMask(r.after));
  out->Add("samples", static_cast<double>(r.samples));
  out->Add("writers", static_cast<double>(r.writers));
  std::string stack;
  for (const std::string& f : r.stack) {
    if (!stack.empty()) stack += '\n';
    stack += f;
  }
  if (!stack.empty()) out->Add("stack", stack);
}

void WatchpointSource::Stats(std::vector<std::pair<const char*, uint64_t>>* out) const {
  CommonStats("watchpoint", core_.stats(), out);
  out->emplace_back("watchpointCoalesced", core_.stats().coalesced);
  out->emplace_back("watchpointReloads", core_.stats().reloads);
}

void TracepointSource::Describe(Attribution* out) const { DescribeReport(core_.latest(), out); }

const PerfReport* TracepointSource::ModuleLoadOf(uint32_t tid, uint64_t since_ns) const {
  const std::vector<PerfReport>& loads = core_.module_loads();
  for (auto it = loads.rbegin(); it != loads.rend(); ++it) {
    if (it->tid == tid && it->time_ns >= since_ns) return &*it;
  }
  return nullptr;
}

void TracepointSource::DescribeReport(const PerfReport& r, Attribution* out) {
  DescribeCommon(r, out);
  out->Add("event", r.event);
  if (!r.module.empty()) out->Add("module", r.module);
  if (r.detector >= 0) out->Add("detector", static_cast<double>(r.detector));
}

void TracepointSource::Stats(std::vector<std::pair<const char*, uint64_t>>* out) const {
  CommonStats("tracepoint", core_.stats(), out);
}

}  // namespace kt
