#include "test_api.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "../epoll_source.h"
#include "kallsyms.h"
#include "module_load.h"
#include "perf_ring.h"
#include "perf_source.h"
#include "symbols.h"
#include "tracefs.h"

namespace kt {

namespace {

std::string Hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

bool ParseHexArg(const Napi::Value& v, uint64_t* out) {
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 9007199254740991.0)) return false;
    *out = static_cast<uint64_t>(d);
    return true;
  }
  if (!v.IsString()) return false;
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.rfind("0x", 0) == 0) s = s.substr(2);
  if (s.empty() || s.size() > 16) return false;
  char* end = nullptr;
  *out = std::strtoull(s.c_str(), &end, 16);
  return end != nullptr && *end == '\0';
}

Napi::Value Throw(Napi::Env env, const char* msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value SampleToObject(Napi::Env env, const perf::Sample& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", Napi::Number::New(env, s.pid));
  o.Set("tid", Napi::Number::New(env, s.tid));
  o.Set("time", Napi::String::New(env, std::to_string(s.time)));
  o.Set("cpu", Napi::Number::New(env, s.cpu));
  o.Set("ip", Napi::String::New(env, Hex(s.ip)));
  Napi::Array chain = Napi::Array::New(env, s.callchain.size());
  for (size_t i = 0; i < s.callchain.size(); ++i) chain.Set(static_cast<uint32_t>(i), Hex(s.callchain[i]));
  o.Set("callchain", chain);
  o.Set("raw", Napi::Buffer<uint8_t>::Copy(env, s.raw.data(), s.raw.size()));
  return o;
}

// drainRing(data: Uint8Array, head: number, tail: number, sampleType: number)
//   -> { tail, malformed, records: [{ type, size, sample? | lost? | comm? | error? }] }
Napi::Value DrainRing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber() ||
      !info[3].IsNumber()) {
    return Throw(env, "drainRing: expected (data, head, tail, sampleType)");
  }
  Napi::Uint8Array data = info[0].As<Napi::Uint8Array>();
  double head = info[1].As<Napi::Number>().DoubleValue(), tail = info[2].As<Napi::Number>().DoubleValue();
  double st = info[3].As<Napi::Number>().DoubleValue();
  if (!(head >= 0 && tail >= 0 && head <= 9007199254740991.0 && tail <= 9007199254740991.0 && st >= 0)) {
    return Throw(env, "drainRing: head, tail and sampleType must be non-negative integers");
  }
  Napi::Array records = Napi::Array::New(env);
  uint32_t n = 0;
  perf::Sample sample;
  perf::DrainResult d = perf::DrainRing(
      data.Data(), data.ElementLength(), static_cast<uint64_t>(head), static_cast<uint64_t>(tail),
      [&](const perf::Record& rec) {
        Napi::Object r = Napi::Object::New(env);
        r.Set("type", Napi::Number::New(env, rec.type));
        r.Set("size", Napi::Number::New(env, static_cast<double>(rec.body.size() + 8)));
        if (rec.type == perf::kRecordSample) {
          if (perf::ParseSample(rec.body.data(), rec.body.size(), static_cast<uint64_t>(st), &sample)) {
            r.Set("sample", SampleToObject(env, sample));
          } else {
            r.Set("error", Napi::String::New(env, "malformed sample"));
          }
        } else if (rec.type == perf::kRecordLost) {
          uint64_t lost = 0;
          if (perf::ParseLost(rec.body.data(), rec.body.size(), &lost)) {
            r.Set("lost", Napi::Number::New(env, static_cast<double>(lost)));
          } else {
            r.Set("error", Napi::String::New(env, "malformed lost record"));
          }
        } else if (rec.type == perf::kRecordComm) {
          uint32_t pid = 0, tid = 0;
          std::string comm;
          if (perf::ParseComm(rec.body.data(), rec.body.size(), &pid, &tid, &comm)) {
            r.Set("comm", Napi::String::New(env, comm));
            r.Set("pid", Napi::Number::New(env, pid));
          }
        }
        records.Set(n++, r);
      });
  Napi::Object out = Napi::Object::New(env);
  out.Set("tail", Napi::Number::New(env, static_cast<double>(d.tail)));
  out.Set("malformed", Napi::Boolean::New(env, d.malformed));
  out.Set("records", records);
  return out;
}

// symbolize(kallsymsText, addrs: (string|number)[]) -> { names, covers, site, count, hidden }
Napi::Value Symbolize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
    return Throw(env, "symbolize: expected (kallsymsText, addresses)");
  }
  Kallsyms syms;
  syms.Parse(info[0].As<Napi::String>().Utf8Value());
  Napi::Array in = info[1].As<Napi::Array>();
  std::vector<uint64_t> chain;
  for (uint32_t i = 0; i < in.Length(); ++i) {
    uint64_t a = 0;
    if (!ParseHexArg(in.Get(i), &a)) return Throw(env, "symbolize: addresses are hex strings or safe integers");
    chain.push_back(a);
  }
  Napi::Array names = Napi::Array::New(env, chain.size()), covers = Napi::Array::New(env, chain.size());
  for (size_t i = 0; i < chain.size(); ++i) {
    names.Set(static_cast<uint32_t>(i), syms.Name(chain[i]));
    covers.Set(static_cast<uint32_t>(i), Napi::Boolean::New(env, syms.Covers(chain[i])));
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("names", names);
  out.Set("covers", covers);
  out.Set("site", Napi::Number::New(env, SiteFrame(syms, chain)));
  out.Set("count", Napi::Number::New(env, static_cast<double>(syms.size())));
  out.Set("hidden", Napi::Boolean::New(env, syms.hidden()));
  return out;
}

// findSymbol(kallsymsText, name) -> { address: hex, hidden }
Napi::Value FindSymbol(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    return Throw(env, "findSymbol: expected (kallsymsText, name)");
  }
  bool hidden = false;
  uint64_t a = Kallsyms::Find(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(), &hidden);
  Napi::Object out = Napi::Object::New(env);
  out.Set("address", Hex(a));
  out.Set("hidden", Napi::Boolean::New(env, hidden));
  return out;
}

// parseFormat(text) -> { name, id, fields: [{type, name, offset, size, signed, dataLoc}] } | { error }
Napi::Value ParseFormat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return Throw(env, "parseFormat: expected the format text");
  TraceFormat f;
  std::string why;
  Napi::Object out = Napi::Object::New(env);
  if (!ParseTraceFormat(info[0].As<Napi::String>().Utf8Value(), &f, &why)) {
    out.Set("error", why);
    return out;
  }
  out.Set("name", f.name);
  out.Set("id", Napi::Number::New(env, static_cast<double>(f.id)));
  Napi::Array fields = Napi::Array::New(env, f.fields.size());
  for (size_t i = 0; i < f.fields.size(); ++i) {
    const TraceField& t = f.fields[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", t.type);
    o.Set("name", t.name);
    o.Set("offset", Napi::Number::New(env, t.offset));
    o.Set("size", Napi::Number::New(env, t.size));
    o.Set("signed", Napi::Boolean::New(env, t.is_signed));
    o.Set("dataLoc", Napi::Boolean::New(env, t.data_loc));
    fields.Set(static_cast<uint32_t>(i), o);
  }
  out.Set("fields", fields);
  return out;
}

// readField(formatText, raw: Uint8Array, field) -> number | string | null
Napi::Value ReadField(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsTypedArray() || !info[2].IsString()) {
    return Throw(env, "readField: expected (formatText, raw, fieldName)");
  }
  TraceFormat f;
  std::string why;
  if (!ParseTraceFormat(info[0].As<Napi::String>().Utf8Value(), &f, &why)) return env.Null();
  const TraceField* field = f.Find(info[2].As<Napi::String>().Utf8Value());
  if (field == nullptr) return env.Null();
  Napi::Uint8Array a = info[1].As<Napi::Uint8Array>();
  std::vector<uint8_t> raw(a.Data(), a.Data() + a.ElementLength());
  if (field->data_loc) {
    std::string s;
    if (!ReadDataLocString(raw, *field, &s)) return env.Null();
    return Napi::String::New(env, s);
  }
  uint64_t v = 0;
  if (!ReadUnsigned(raw, *field, &v)) return env.Null();
  return Napi::String::New(env, Hex(v));
}

Napi::Value TracefsMount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return Throw(env, "tracefsFromMounts: expected the mounts text");
  return Napi::String::New(env, TracefsFromMounts(info[0].As<Napi::String>().Utf8Value()));
}

// locateTracefs(mounts: string, fallbacks: string[]) -> { root, reason }
Napi::Value LocateTracefsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
    return Throw(env, "locateTracefs: expected (mounts, fallbacks)");
  }
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<std::string> fallbacks;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value v = list.Get(i);
    if (!v.IsString()) return Throw(env, "locateTracefs: fallbacks must be strings");
    fallbacks.push_back(v.As<Napi::String>().Utf8Value());
  }
  std::string reason;
  std::string root = LocateTracefs(info[0].As<Napi::String>().Utf8Value(), fallbacks, &reason);
  Napi::Object out = Napi::Object::New(env);
  out.Set("root", root);
  out.Set("reason", reason);
  return out;
}

// nameFromSections(kallsymsText: string, addr: string | number, sysfsModuleDir: string, procModules?: string) -> string
Napi::Value NameFromSectionsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t addr = 0;
  if (info.Length() < 3 || !info[0].IsString() || !ParseHexArg(info[1], &addr) || !info[2].IsString()) {
    return Throw(env, "nameFromSections: expected (kallsyms text, address, sysfs module dir)");
  }
  // The fourth argument: a /proc/modules stand-in; without it, every directory of the sysfs dir.
  std::string proc_modules = info.Length() > 3 && info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
  Kallsyms syms;
  syms.Parse(info[0].As<Napi::String>().Utf8Value());
  return Napi::String::New(
      env, symbols::NameFromSections(&syms, addr, info[2].As<Napi::String>().Utf8Value(), proc_modules));
}

Napi::Value CpuList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return Throw(env, "parseCpuList: expected the list text");
  std::vector<int> cpus = PerfSourceBase::ParseCpuList(info[0].As<Napi::String>().Utf8Value());
  Napi::Array out = Napi::Array::New(env, cpus.size());
  for (size_t i = 0; i < cpus.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, cpus[i]));
  return out;
}

// fromModuleLoader(stack: string[]) -> boolean (module_load.h)
Napi::Value FromModuleLoaderJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) return Throw(env, "fromModuleLoader: expected the frames");
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<std::string> stack;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value v = list.Get(i);
    if (!v.IsString()) return Throw(env, "fromModuleLoader: frames must be strings");
    stack.push_back(v.As<Napi::String>().Utf8Value());
  }
  return Napi::Boolean::New(env, modload::FromModuleLoader(stack));
}

// loaderBits(bits: number) -> boolean (module_load.h)
Napi::Value LoaderBitsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return Throw(env, "loaderBits: expected a number");
  return Napi::Boolean::New(env, modload::LoaderBits(info[0].As<Napi::Number>().Uint32Value()));
}

bool ToAttribution(const Napi::Value& v, Attribution* out) {
  if (!v.IsObject()) return false;
  Napi::Object o = v.As<Napi::Object>();
  Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
    Napi::Value x = o.Get(k);
    if (x.IsNumber()) {
      out->fields.push_back({k, Attribution::Field::kNumber, x.As<Napi::Number>().DoubleValue(), {}, {}});
    } else if (x.IsString()) {
      out->fields.push_back({k, Attribution::Field::kText, 0, x.As<Napi::String>().Utf8Value(), {}});
    } else {
      return false;
    }
  }
  return true;
}

// mergeWatchpointCause(held: object, newer: object) -> object (module_load.h)
Napi::Value MergeWatchpointCauseJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Attribution held, newer;
  if (info.Length() < 2 || !ToAttribution(info[0], &held) || !ToAttribution(info[1], &newer)) {
    return Throw(env, "mergeWatchpointCause: expected two objects of numbers and strings");
  }
  modload::MergeWatchpointCause(&held, newer);
  Napi::Object out = Napi::Object::New(env);
  for (const Attribution::Field& f : held.fields) {
    if (f.kind == Attribution::Field::kNumber) {
      out.Set(f.key, Napi::Number::New(env, f.number));
    } else {
      out.Set(f.key, Napi::String::New(env, f.text));
    }
  }
  return out;
}

// causesJson([[source, [[key, value], ...]], ...]) -> the JSON text a delivery carries (value: string,
// number or array of strings).
Napi::Value CausesJsonJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) return Throw(env, "causesJson: expected [[source, fields]]");
  Napi::Array in = info[0].As<Napi::Array>();
  std::vector<std::string> names;
  std::vector<Attribution> whats;
  for (uint32_t i = 0; i < in.Length(); ++i) {
    Napi::Array pair = in.Get(i).As<Napi::Array>();
    names.push_back(pair.Get(0u).As<Napi::String>().Utf8Value());
    Attribution a;
    Napi::Array fields = pair.Get(1u).As<Napi::Array>();
    for (uint32_t j = 0; j < fields.Length(); ++j) {
      Napi::Array kv = fields.Get(j).As<Napi::Array>();
      std::string key = kv.Get(0u).As<Napi::String>().Utf8Value();
      Napi::Value v = kv.Get(1u);
      if (v.IsNumber()) {
        a.Add(key.c_str(), v.As<Napi::Number>().DoubleValue());
      } else if (v.IsArray()) {
        std::vector<std::string> list;
        Napi::Array arr = v.As<Napi::Array>();
        for (uint32_t k = 0; k < arr.Length(); ++k) list.push_back(arr.Get(k).As<Napi::String>().Utf8Value());
        a.Add(key.c_str(), std::move(list));
      } else {
        a.Add(key.c_str(), v.As<Napi::String>().Utf8Value());
      }
    }
    whats.push_back(std::move(a));
  }
  std::vector<std::pair<const char*, Attribution>> causes;
  for (size_t i = 0; i < names.size(); ++i) causes.emplace_back(names[i].c_str(), std::move(whats[i]));
  std::string out;
  CausesJson(causes, &out);
  return Napi::String::New(env, out);
}

// earliestWarnTrap(kallsymsText, [[time, [address, ...]], ...]) -> index or -1
Napi::Value EarliestWarnTrapJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
    return Throw(env, "earliestWarnTrap: expected (kallsyms text, [[time, [addresses]]])");
  }
  Kallsyms syms;
  syms.Parse(info[0].As<Napi::String>().Utf8Value());
  std::vector<perf::Sample> traps;
  Napi::Array in = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < in.Length(); ++i) {
    Napi::Array t = in.Get(i).As<Napi::Array>();
    perf::Sample s;
    s.time = static_cast<uint64_t>(t.Get(0u).As<Napi::Number>().DoubleValue());
    Napi::Array chain = t.Get(1u).As<Napi::Array>();
    for (uint32_t j = 0; j < chain.Length(); ++j) {
      uint64_t addr = 0;
      if (!ParseHexArg(chain.Get(j), &addr)) return Throw(env, "earliestWarnTrap: bad address");
      s.callchain.push_back(addr);
    }
    traps.push_back(std::move(s));
  }
  return Napi::Number::New(env, EarliestWarnTrap(syms, traps));
}

}  // namespace

Napi::Object AttributionTestApi(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("drainRing", Napi::Function::New(env, DrainRing, "drainRing"));
  o.Set("symbolize", Napi::Function::New(env, Symbolize, "symbolize"));
  o.Set("findSymbol", Napi::Function::New(env, FindSymbol, "findSymbol"));
  o.Set("parseFormat", Napi::Function::New(env, ParseFormat, "parseFormat"));
  o.Set("readField", Napi::Function::New(env, ReadField, "readField"));
  o.Set("tracefsFromMounts", Napi::Function::New(env, TracefsMount, "tracefsFromMounts"));
  o.Set("parseCpuList", Napi::Function::New(env, CpuList, "parseCpuList"));
  o.Set("nameFromSections", Napi::Function::New(env, NameFromSectionsJs, "nameFromSections"));
  o.Set("locateTracefs", Napi::Function::New(env, LocateTracefsJs, "locateTracefs"));
  o.Set("fromModuleLoader", Napi::Function::New(env, FromModuleLoaderJs, "fromModuleLoader"));
  o.Set("loaderBits", Napi::Function::New(env, LoaderBitsJs, "loaderBits"));
  o.Set("mergeWatchpointCause", Napi::Function::New(env, MergeWatchpointCauseJs, "mergeWatchpointCause"));
  o.Set("causesJson", Napi::Function::New(env, CausesJsonJs, "causesJson"));
  o.Set("earliestWarnTrap", Napi::Function::New(env, EarliestWarnTrapJs, "earliestWarnTrap"));
  return o;
}

}  // namespace kt
