#include "spec/params.h"

#include <algorithm>
#include <functional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/units.h"
#include "spec/workload_catalog.h"

namespace iommuvm::spec {
namespace {

// How a parameter's value is written.
enum class Kind { kInteger, kSize, kDuration, kRate };

struct Parameter {
  const char* section;  // "server" or "generator"
  const char* key;      // the key it sets in that section
  Kind kind;
  uint64_t min;  // durations in milliseconds, rates in requests/s
  uint64_t max;
  std::function<void(WorkloadSpec&, uint64_t)> set;
};

uint32_t U32(uint64_t v) { return static_cast<uint32_t>(v); }

const std::map<std::string, Parameter>& Parameters() {
  using W = WorkloadSpec;
  static const auto* params = new std::map<std::string, Parameter>{
      // Generator.
      {"clients",
       {"generator", "clients", Kind::kInteger, 1, 100000,
        [](W& w, uint64_t v) { w.generator.clients = U32(v); }}},
      {"requests",
       {"generator", "requests", Kind::kInteger, 1, 1ull << 40,
        [](W& w, uint64_t v) { w.generator.requests = v; }}},
      {"duration",
       {"generator", "duration", Kind::kDuration, 1000, 1ull << 40,
        [](W& w, uint64_t v) { w.generator.duration = absl::Milliseconds(v); }}},
      {"pipeline",
       {"generator", "pipeline", Kind::kInteger, 1, 100000,
        [](W& w, uint64_t v) { w.generator.pipeline = U32(v); }}},
      {"value_size",
       {"generator", "value_size", Kind::kSize, 1, 512ull << 20,
        [](W& w, uint64_t v) { w.generator.value_size = U32(v); }}},
      {"keyspace",
       {"generator", "keyspace", Kind::kInteger, 0, 1ull << 40,
        [](W& w, uint64_t v) { w.generator.keyspace = v; }}},
      {"threads",
       {"generator", "threads", Kind::kInteger, 0, 1024,
        [](W& w, uint64_t v) { w.generator.threads = U32(v); }}},
      {"file_size",
       {"generator", "file_size", Kind::kSize, 1, 1ull << 40,
        [](W& w, uint64_t v) { w.generator.file_size = v; }}},
      {"rate",
       {"generator", "rate", Kind::kRate, 1, 1000000000000ull,
        [](W& w, uint64_t v) { w.generator.rate = v; }}},
      {"flows",
       {"generator", "flows", Kind::kInteger, 1, 256,
        [](W& w, uint64_t v) { w.generator.flows = U32(v); }}},
      {"message_size",
       {"generator", "message_size", Kind::kSize, 14, 65000,
        [](W& w, uint64_t v) { w.generator.message_size = U32(v); }}},
      {"socket_buffer",
       {"generator", "socket_buffer", Kind::kSize, 1024, 1ull << 30,
        [](W& w, uint64_t v) { w.generator.socket_buffer = v; }}},
      // Server.
      {"io_threads",
       {"server", "io_threads", Kind::kInteger, 1, 128,
        [](W& w, uint64_t v) { w.server.io_threads = U32(v); }}},
      {"max_memory",
       {"server", "max_memory", Kind::kSize, 0, 1ull << 50,
        [](W& w, uint64_t v) { w.server.max_memory_bytes = v; }}},
      {"server_threads",
       {"server", "threads", Kind::kInteger, 1, 1024,
        [](W& w, uint64_t v) { w.server.threads = U32(v); }}},
      {"connections",
       {"server", "connections", Kind::kInteger, 1, 1000000,
        [](W& w, uint64_t v) { w.server.connections = U32(v); }}},
      {"workers",
       {"server", "workers", Kind::kInteger, 1, 1024,
        [](W& w, uint64_t v) { w.server.workers = U32(v); }}},
  };
  return *params;
}

bool Parse(const Parameter& p, const std::string& value, uint64_t* out) {
  switch (p.kind) {
    case Kind::kSize: {
      auto v = ParseSize(value);
      if (!v.ok()) return false;
      *out = *v;
      break;
    }
    case Kind::kDuration: {
      auto v = ParseDuration(value);
      if (!v.ok() || *v < absl::ZeroDuration()) return false;
      *out = static_cast<uint64_t>(absl::ToInt64Milliseconds(*v));
      break;
    }
    case Kind::kRate: {
      auto v = ParseRate(value);
      if (!v.ok()) return false;
      *out = *v;
      break;
    }
    case Kind::kInteger:
      if (!absl::SimpleAtoi(value, out)) return false;
      break;
  }
  return *out >= p.min && *out <= p.max;
}

std::string Expected(const Parameter& p) {
  switch (p.kind) {
    case Kind::kSize:
      return absl::StrCat("a size (64, 4KiB) from ", p.min, " to ", p.max, " bytes");
    case Kind::kDuration:
      return absl::StrCat("a duration of at least ", SpecDuration(absl::Milliseconds(p.min)),
                          " (30s, 5m)");
    case Kind::kRate:
      return "a rate (50000/s, 50k/s, 1.5M/s)";
    case Kind::kInteger:
      break;
  }
  return absl::StrCat("an integer from ", p.min, " to ", p.max);
}

}  // namespace

const std::vector<std::string>& AxisParameters() {
  static const auto* names = [] {
    auto* v = new std::vector<std::string>;
    for (const auto& [name, _] : Parameters()) v->push_back(name);
    return v;
  }();
  return *names;
}

std::string CheckAxisValue(const std::string& name, const std::string& value) {
  auto it = Parameters().find(name);
  if (it == Parameters().end()) return absl::StrCat("'", name, "' is not a parameter");
  uint64_t v;
  if (Parse(it->second, value, &v)) return "";
  return absl::StrCat("'", value, "' is not a valid ", name, ": expected ", Expected(it->second));
}

bool AxisAppliesTo(const std::string& name, const WorkloadSpec& w) {
  auto it = Parameters().find(name);
  if (it == Parameters().end()) return false;
  const std::string key = it->second.key;
  if (std::string(it->second.section) == "server") {
    const AppInfo* app = FindApp(w.app);
    return app != nullptr && std::find(app->server_keys.begin(), app->server_keys.end(), key) !=
                                 app->server_keys.end();
  }
  const ToolInfo* tool = FindTool(w.generator.tool);
  return tool != nullptr && std::find(tool->generator_keys.begin(), tool->generator_keys.end(),
                                      key) != tool->generator_keys.end();
}

WorkloadSpec ApplyParams(WorkloadSpec w, const std::map<std::string, std::string>& params) {
  for (const auto& [name, value] : params) {
    auto it = Parameters().find(name);
    uint64_t v;
    if (it != Parameters().end() && Parse(it->second, value, &v)) it->second.set(w, v);
  }
  return w;
}

std::string FormatParams(const std::map<std::string, std::string>& params) {
  return absl::StrJoin(params, " ", absl::PairFormatter("="));
}

}  // namespace iommuvm::spec
