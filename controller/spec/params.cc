#include "controller/spec/params.h"

#include <functional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/units.h"

namespace iommuvm::spec {
namespace {

struct Parameter {
  bool is_size;  // parsed with ParseSize, else a plain integer
  uint64_t min;
  uint64_t max;
  std::function<void(WorkloadSpec&, uint64_t)> set;
};

const std::map<std::string, Parameter>& Parameters() {
  static const auto* params = new std::map<std::string, Parameter>{
      {"clients", {false, 1, 100000, [](WorkloadSpec& w, uint64_t v) {
                     w.generator.clients = static_cast<uint32_t>(v); }}},
      {"requests", {false, 1, 1ull << 40, [](WorkloadSpec& w, uint64_t v) {
                      w.generator.requests = v; }}},
      {"pipeline", {false, 1, 100000, [](WorkloadSpec& w, uint64_t v) {
                      w.generator.pipeline = static_cast<uint32_t>(v); }}},
      {"value_size", {true, 1, 512ull << 20, [](WorkloadSpec& w, uint64_t v) {
                        w.generator.value_size = static_cast<uint32_t>(v); }}},
      {"keyspace", {false, 0, 1ull << 40, [](WorkloadSpec& w, uint64_t v) {
                      w.generator.keyspace = v; }}},
      {"threads", {false, 0, 1024, [](WorkloadSpec& w, uint64_t v) {
                     w.generator.threads = static_cast<uint32_t>(v); }}},
      {"io_threads", {false, 1, 128, [](WorkloadSpec& w, uint64_t v) {
                        w.server.io_threads = static_cast<uint32_t>(v); }}},
      {"max_memory", {true, 0, 1ull << 50, [](WorkloadSpec& w, uint64_t v) {
                        w.server.max_memory_bytes = v; }}},
  };
  return *params;
}

bool Parse(const Parameter& p, const std::string& value, uint64_t* out) {
  if (p.is_size) {
    auto v = ParseSize(value);
    if (!v.ok()) return false;
    *out = *v;
  } else if (!absl::SimpleAtoi(value, out)) {
    return false;
  }
  return *out >= p.min && *out <= p.max;
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
  return absl::StrCat("'", value, "' is not a valid ", name, ": expected ",
                      it->second.is_size ? "a size (64, 4KiB)" : "an integer", " from ",
                      it->second.min, " to ", it->second.max);
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
