#pragma once
// What the experiment language knows about applications and load
// generators: which server keys each app takes, which apps each tool
// drives, whether a tool is open-loop (holds a rate) and whether it is
// bounded by a request count or by time. The parser checks workloads
// against this table; the planner estimates run times from it.

#include <string>
#include <vector>

namespace iommuvm::spec {

struct AppInfo {
  std::string name;
  std::string default_tool;
  std::vector<std::string> server_keys;  // keys allowed under `server`
  // Whether the server counts the requests it serves (redis, memcached,
  // nginx); the others' steadiness is judged by the server node's packets.
  bool counts_requests = true;
};

enum class RunBound {
  kRequests,  // a request count only (redis-benchmark)
  kDuration,  // a duration only (wrk, wrk2)
  kEither,    // requests or duration (memtier_benchmark, memcaslap)
};

struct ToolInfo {
  std::string name;
  std::vector<std::string> apps;  // applications it can drive
  bool open_loop = false;         // holds a fixed request rate (`rate`)
  RunBound bound = RunBound::kRequests;
  std::vector<std::string> generator_keys;  // keys allowed under `generator`
};

const std::vector<AppInfo>& Apps();
const std::vector<ToolInfo>& Tools();
// Null when unknown.
const AppInfo* FindApp(const std::string& name);
const ToolInfo* FindTool(const std::string& name);
std::vector<std::string> AppNames();
std::vector<std::string> ToolNames();
// Every key any app accepts under `server` / any tool under `generator`.
std::vector<std::string> AllServerKeys();
std::vector<std::string> AllGeneratorKeys();
// The redis-benchmark test names (`generator.tests`).
const std::vector<std::string>& RedisBenchmarkTests();

}  // namespace iommuvm::spec
