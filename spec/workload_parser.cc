#include "spec/workload_parser.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/cpu_list.h"
#include "common/units.h"
#include "spec/workload_catalog.h"
#include "spec/yaml_reader.h"

namespace iommuvm::spec {
namespace {

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Reads the one string of `key` when it is one of `allowed`.
std::string OneOf(MapReader& r, const std::string& key, const std::vector<std::string>& allowed,
                  bool required) {
  std::vector<std::string> values;
  r.StringList(key, &values, allowed, required);
  if (values.size() > 1) r.Error(r.Child(key), r.ChildPath(key), "expected one value");
  return values.size() == 1 ? values[0] : "";
}

std::vector<std::string> ToolsFor(const std::string& app) {
  std::vector<std::string> names;
  for (const auto& t : Tools()) {
    if (Contains(t.apps, app)) names.push_back(t.name);
  }
  return names;
}

void ReadServer(MapReader& w, const AppInfo* app, SpecErrors* errors, ServerSpec* s) {
  YAML::Node node = w.Child("server");
  if (!node.IsDefined()) return;
  MapReader r(node, w.ChildPath("server"), errors);
  if (!r.valid()) return;
  std::vector<std::string> allowed = app ? app->server_keys : AllServerKeys();
  std::string owner =
      app ? app->name + " (its server keys: " + absl::StrJoin(app->server_keys, ", ") + ")"
          : "this app";
  for (const std::string& key : AllServerKeys()) {
    YAML::Node n = r.Child(key);
    if (n.IsDefined() && !Contains(allowed, key)) {
      r.Error(n, r.ChildPath(key), absl::StrCat("'", key, "' does not apply to ", owner));
    }
  }
  auto applies = [&](const char* key) { return Contains(allowed, key); };
  r.UInt32("port", &s->port, 0, 65535);
  if (applies("io_threads")) r.UInt32("io_threads", &s->io_threads, 1, 128);
  if (applies("max_memory")) r.Size("max_memory", &s->max_memory_bytes, 0, 1ull << 50);
  if (applies("threads")) r.UInt32("threads", &s->threads, 1, 1024);
  if (applies("connections")) r.UInt32("connections", &s->connections, 1, 1000000);
  if (applies("workers")) r.UInt32("workers", &s->workers, 1, 1024);
  if (applies("keepalive_requests")) {
    r.UInt32("keepalive_requests", &s->keepalive_requests, 1, 100000000);
  }
  if (applies("preload")) r.Bool("preload", &s->preload);
  r.String("cores", &s->cores);
  if (!s->cores.empty()) {
    std::string e = CheckCoresChoice(s->cores);
    if (!e.empty()) r.Error(r.Child("cores"), r.ChildPath("cores"), e);
  }
}

// Why generator key `key` does not fit `t`, in the researcher's terms.
std::string InapplicableReason(const ToolInfo& t, const std::string& key) {
  if (key == "rate") {
    return absl::StrCat(t.name, " is closed-loop and cannot hold a request rate; 'rate' ",
                        "needs a tool that paces its requests (wrk2, sockperf)");
  }
  if (key == "duration" && t.bound == RunBound::kRequests) {
    return absl::StrCat(t.name, " is bounded by a request count, not by time; ",
                        "use 'requests' instead");
  }
  if (key == "requests" && t.bound == RunBound::kDuration) {
    return absl::StrCat(t.name, " runs for a duration, not a request count; ",
                        "use 'duration' instead");
  }
  std::vector<std::string> users;
  for (const auto& other : Tools()) {
    if (Contains(other.generator_keys, key)) users.push_back(other.name);
  }
  return absl::StrCat("'", key, "' does not apply to ", t.name, " (it is a key of ",
                      absl::StrJoin(users, ", "), ")");
}

void ReadGenerator(MapReader& w, const AppInfo* app, SpecErrors* errors, GeneratorSpec* g) {
  YAML::Node node = w.Child("generator");
  if (!node.IsDefined()) {
    w.Error(node, w.ChildPath("generator"), "required key is missing");
    return;
  }
  MapReader r(node, w.ChildPath("generator"), errors);
  if (!r.valid()) return;
  g->tool = OneOf(r, "tool", ToolNames(), /*required=*/false);
  if (g->tool.empty() && app != nullptr) g->tool = app->default_tool;
  const ToolInfo* tool = FindTool(g->tool);
  if (tool == nullptr) {  // unknown tool (already reported) or unknown app
    for (const std::string& key : AllGeneratorKeys()) r.Known(key);
    return;
  }
  if (app != nullptr && !Contains(tool->apps, app->name)) {
    r.Error(r.Child("tool"), r.ChildPath("tool"),
            absl::StrCat(tool->name, " drives ", absl::StrJoin(tool->apps, " and "), ", not ",
                         app->name, "; tools for ", app->name, ": ",
                         absl::StrJoin(ToolsFor(app->name), ", ")));
  }
  for (const std::string& key : AllGeneratorKeys()) {
    YAML::Node n = r.Child(key);
    if (n.IsDefined() && !Contains(tool->generator_keys, key)) {
      r.Error(n, r.ChildPath(key), InapplicableReason(*tool, key));
    }
  }
  auto applies = [&](const char* key) { return Contains(tool->generator_keys, key); };

  if (applies("tests")) r.StringList("tests", &g->tests, RedisBenchmarkTests());
  r.UInt32("clients", &g->clients, 1, 100000);
  r.UInt32("threads", &g->threads, 0, 1024);
  if (applies("requests")) r.UInt64("requests", &g->requests, 1, 1ull << 40);
  if (applies("duration")) r.Duration("duration", &g->duration, absl::Seconds(1));
  r.Duration("warmup", &g->warmup, absl::ZeroDuration());
  if (applies("pipeline")) r.UInt32("pipeline", &g->pipeline, 1, 100000);
  if (applies("value_size")) {
    uint64_t value_size = g->value_size;
    r.Size("value_size", &value_size, 1, 512ull << 20);
    g->value_size = static_cast<uint32_t>(value_size);
  }
  if (applies("keyspace")) r.UInt64("keyspace", &g->keyspace, 0, 1ull << 40);
  if (applies("ratio")) {
    r.String("ratio", &g->ratio);
    std::string e = CheckRatio(g->ratio);
    if (!e.empty()) r.Error(r.Child("ratio"), r.ChildPath("ratio"), e);
  }
  if (applies("file_size")) r.Size("file_size", &g->file_size, 1, 1ull << 40);
  if (applies("flows")) r.UInt32("flows", &g->flows, 1, 256);
  if (applies("congestion")) r.String("congestion", &g->congestion);
  if (applies("socket_buffer")) r.Size("socket_buffer", &g->socket_buffer, 1024, 1ull << 30);
  if (applies("write_size")) r.Size("write_size", &g->write_size, 1, 1ull << 30);
  if (applies("message_size")) {
    uint64_t size = g->message_size;
    // sockperf's own bounds: its header is 14 bytes, a message at most 65000.
    r.Size("message_size", &size, 14, 65000);
    g->message_size = static_cast<uint32_t>(size);
  }
  if (applies("cores")) {
    r.String("cores", &g->cores);
    std::string e = g->cores.empty() ? "" : CheckCoresChoice(g->cores);
    if (!e.empty()) r.Error(r.Child("cores"), r.ChildPath("cores"), e);
  }
  if (applies("rate")) {
    YAML::Node rate = r.Child("rate");
    if (rate.IsDefined()) {
      auto parsed = rate.IsScalar() ? ParseRate(rate.Scalar())
                                    : absl::InvalidArgumentError(
                                          "expected a rate such as 50k/s, found " + Describe(rate));
      if (parsed.ok()) {
        g->rate = *parsed;
      } else {
        r.Error(rate, r.ChildPath("rate"), std::string(parsed.status().message()));
      }
    }
  }

  // How the run is bounded.
  bool has_requests = r.Child("requests").IsDefined() && applies("requests");
  bool has_duration = r.Child("duration").IsDefined() && applies("duration");
  if (has_requests && has_duration) {
    r.Error(r.Child("duration"), r.ChildPath("duration"),
            absl::StrCat(tool->name,
                         " runs for either a request count or a duration; set one "
                         "of 'requests' and 'duration', not both"));
  }
  if (!has_requests && !has_duration) {
    if (tool->bound == RunBound::kRequests) {
      g->requests = 100000;
    } else {
      g->duration = absl::Seconds(30);
    }
  }
  if (tool->open_loop && !r.Child("rate").IsDefined()) {
    r.Error(node, r.ChildPath("rate"),
            absl::StrCat(tool->name, " is open-loop and needs a request rate, e.g. rate: 50k/s"));
  }
  if (applies("file_size") && g->file_size == 0 && !r.Child("file_size").IsDefined()) {
    r.Error(node, r.ChildPath("file_size"),
            "an nginx generator needs the size of the static file it fetches, e.g. "
            "file_size: 4KiB");
  }
}

}  // namespace

std::string CheckCpuList(const std::string& cores) {
  auto cpus = ParseCpuList(cores);
  return cpus.ok() ? "" : std::string(cpus.status().message());
}

std::string CheckCoresChoice(const std::string& cores) {
  if (cores == "auto") return "";
  if (absl::StartsWith(cores, "auto:")) {
    uint32_t n = 0;
    if (absl::SimpleAtoi(cores.substr(5), &n) && n > 0 && n <= 4096) return "";
    return absl::StrCat("'", cores,
                        "': write auto (the data NIC's NUMA node) or auto:N (N of "
                        "its CPUs), N from 1 to 4096");
  }
  std::string e = CheckCpuList(cores);
  return e.empty() ? "" : absl::StrCat(e, "; or write auto / auto:N for the data NIC's NUMA node");
}

std::string CheckRatio(const std::string& ratio) {
  std::vector<absl::string_view> parts = absl::StrSplit(ratio, ':');
  uint32_t sets = 0, gets = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &sets) ||
      !absl::SimpleAtoi(parts[1], &gets) || sets + gets == 0) {
    return absl::StrCat("'", ratio,
                        "' is not a set:get ratio; write two integers such as 1:10 "
                        "(1 set for every 10 gets) or 0:1 (gets only)");
  }
  return "";
}

void ReadWorkload(const YAML::Node& node, const std::string& path, SpecErrors* errors,
                  WorkloadSpec* w) {
  MapReader r(node, path, errors);
  if (!r.valid()) return;
  w->app = OneOf(r, "app", AppNames(), /*required=*/true);
  const AppInfo* app = FindApp(w->app);
  ReadServer(r, app, errors, &w->server);
  ReadGenerator(r, app, errors, &w->generator);
  const ToolInfo* tool = FindTool(w->generator.tool);
  if (w->server.preload && tool != nullptr && !Contains(tool->generator_keys, "keyspace")) {
    YAML::Node server = r.Child("server");
    r.Error(server.IsMap() ? server["preload"] : server, r.ChildPath("server") + ".preload",
            absl::StrCat(tool->name,
                         " makes its own keys, so preloading cannot help it; "
                         "preload needs a tool with a key space (redis-benchmark, "
                         "memtier_benchmark)"));
  }
}

}  // namespace iommuvm::spec
