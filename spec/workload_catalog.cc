#include "spec/workload_catalog.h"

#include <algorithm>
#include <set>

namespace iommuvm::spec {
namespace {

std::vector<std::string> Union(const std::vector<std::vector<std::string>>& lists) {
  std::set<std::string> all;
  for (const auto& l : lists) all.insert(l.begin(), l.end());
  return {all.begin(), all.end()};
}

}  // namespace

const std::vector<AppInfo>& Apps() {
  static const auto* apps = new std::vector<AppInfo>{
      {"redis", "redis-benchmark", {"port", "io_threads", "max_memory", "cores", "preload"}},
      {"memcached",
       "memcaslap",
       {"port", "threads", "max_memory", "connections", "cores", "preload"}},
      {"nginx", "wrk", {"port", "workers", "keepalive_requests", "cores"}},
      // Bulk TCP flows and request/response latency: the network path itself.
      {"iperf3", "iperf3", {"port", "cores"}, /*counts_requests=*/false},
      {"sockperf", "sockperf", {"port", "cores"}, /*counts_requests=*/false},
      // netperf TCP_RR against netserver, where a node has netperf (not a
      // Debian 12 package).
      {"netperf", "netperf", {"port", "cores"}, /*counts_requests=*/false},
  };
  return *apps;
}

const std::vector<ToolInfo>& Tools() {
  static const auto* tools = new std::vector<ToolInfo>{
      {"redis-benchmark",
       {"redis"},
       false,
       RunBound::kRequests,
       {"tool", "tests", "clients", "requests", "pipeline", "value_size", "keyspace", "threads",
        "warmup"}},
      {"memtier_benchmark",
       {"redis", "memcached"},
       false,
       RunBound::kEither,
       {"tool", "clients", "threads", "requests", "duration", "pipeline", "ratio", "keyspace",
        "value_size", "warmup"}},
      // memcaslap makes its own keys: no key space (and no preload).
      {"memcaslap",
       {"memcached"},
       false,
       RunBound::kEither,
       {"tool", "clients", "threads", "requests", "duration", "ratio", "value_size", "warmup"}},
      {"wrk",
       {"nginx"},
       false,
       RunBound::kDuration,
       {"tool", "clients", "threads", "duration", "warmup", "file_size"}},
      {"wrk2",
       {"nginx"},
       true,
       RunBound::kDuration,
       {"tool", "clients", "threads", "duration", "warmup", "file_size", "rate"}},
      {"iperf3",
       {"iperf3"},
       false,
       RunBound::kDuration,
       {"tool", "flows", "duration", "warmup", "congestion", "socket_buffer", "write_size",
        "cores"}},
      // ping-pong: one request in flight; `rate` paces it (--mps), else as fast as replies come.
      {"sockperf",
       {"sockperf"},
       false,
       RunBound::kDuration,
       {"tool", "duration", "warmup", "message_size", "rate", "cores"}},
      // TCP_RR: one transaction in flight, `message_size` bytes each way.
      {"netperf",
       {"netperf"},
       false,
       RunBound::kDuration,
       {"tool", "duration", "warmup", "message_size", "cores"}},
  };
  return *tools;
}

const AppInfo* FindApp(const std::string& name) {
  for (const auto& a : Apps()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const ToolInfo* FindTool(const std::string& name) {
  for (const auto& t : Tools()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::vector<std::string> AppNames() {
  std::vector<std::string> names;
  for (const auto& a : Apps()) names.push_back(a.name);
  return names;
}

std::vector<std::string> ToolNames() {
  std::vector<std::string> names;
  for (const auto& t : Tools()) names.push_back(t.name);
  return names;
}

std::vector<std::string> AllServerKeys() {
  std::vector<std::vector<std::string>> lists;
  for (const auto& a : Apps()) lists.push_back(a.server_keys);
  return Union(lists);
}

std::vector<std::string> AllGeneratorKeys() {
  std::vector<std::vector<std::string>> lists;
  for (const auto& t : Tools()) lists.push_back(t.generator_keys);
  return Union(lists);
}

const std::vector<std::string>& RedisBenchmarkTests() {
  static const auto* tests = new std::vector<std::string>{
      "ping_inline", "ping_mbulk", "set",        "get",        "incr", "lpush", "rpush",
      "lpop",        "rpop",       "sadd",       "hset",       "spop", "zadd",  "zpopmin",
      "lrange_100",  "lrange_300", "lrange_500", "lrange_600", "mset"};
  return *tests;
}

}  // namespace iommuvm::spec
