#pragma once
// The shape every server under test shares: write its config into the run
// directory, start it (pinned with taskset when cores are given) bound to
// the data-plane address, wait until it answers its own protocol, populate
// it when asked, and stop it — also when the run fails or is cancelled.
// Subclasses say how to configure, probe and preload their server (redis,
// memcached, nginx); one instance per attempt.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/workload/workload_env.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

class ServerApplication {
 public:
  explicit ServerApplication(const WorkloadEnv& env) : env_(env) {}
  virtual ~ServerApplication() { Stop(); }
  // Writes the server's config into `run_dir`, starts it bound to `host`
  // and returns the port once the server answers its own protocol. On
  // failure the process is gone and the error carries the server's words.
  absl::StatusOr<uint32_t> Start(const v1::StartServer& config, const std::string& host,
                                 const std::string& run_dir, absl::Duration timeout);
  // Stops the server (idempotent); true if it was still running.
  bool Stop();
  // True while the server process is alive.
  bool Running();
  // Requests served so far, from the server's own counters (redis INFO
  // total_commands_processed, memcached cmd_get + cmd_set, nginx
  // stub_status): live throughput whatever the generator prints.
  absl::StatusOr<uint64_t> RequestsServed();
  // Whether the server counts the requests it serves (RequestsServed);
  // iperf3 and sockperf do not.
  virtual bool HasRequestCounter() const { return true; }
  // How long Stop lets the server exit after SIGTERM before SIGKILL. No
  // run keeps a server's data, so a server slow to exit is not waited for.
  virtual absl::Duration StopGrace() const { return absl::Seconds(3); }

 protected:
  // The program's name (log file and messages).
  virtual std::string name() const = 0;
  // How many processes serve: one, except servers run once per flow
  // (iperf3), which listen on ports port..port+n-1.
  virtual uint32_t Processes(const v1::StartServer&) const { return 1; }
  // Writes config files into `run_dir`; returns the command line of the
  // process that listens on `port`.
  virtual absl::StatusOr<std::vector<std::string>> Prepare(const v1::StartServer& config,
                                                           const std::string& host,
                                                           uint32_t port,
                                                           const std::string& run_dir) = 0;
  // True once the server answers its own protocol.
  virtual bool Ready(const std::string& host, uint32_t port) = 0;
  // The server's request counter, asked over its own protocol.
  virtual absl::StatusOr<uint64_t> Requests(const std::string& host, uint32_t port) = 0;
  // Populates the key space (config.preload_keys > 0).
  virtual absl::Status Preload(const v1::StartServer& config, const std::string& host,
                               uint32_t port);
  const WorkloadEnv& env() const { return env_; }

 private:
  WorkloadEnv env_;
  // Starts process `index` of `count` (pinned to the spec's cores, or to
  // the index-th of them when there are several processes).
  absl::StatusOr<std::unique_ptr<Process>> StartProcess(const v1::StartServer& config,
                                                        std::vector<std::string> argv,
                                                        const std::string& log_path, uint32_t index,
                                                        uint32_t count);
  std::vector<std::unique_ptr<Process>> processes_;
  std::string host_;
  uint32_t port_ = 0;
};

// Key number `i` in a printf-style `format` with one integer ("key:%012d",
// "memtier-%d"); "" format means redis-benchmark's "key:%012d".
std::string FormatKey(const std::string& format, uint64_t i);

// The integer right after `key` in `text` (0 when absent):
// CounterAfter("...\r\ntotal_commands_processed:42\r\n", "total_commands_processed:") = 42.
uint64_t CounterAfter(absl::string_view text, absl::string_view key);

// The value preloaded under every key (preload_value_size bytes, 3 when
// unset, like redis-benchmark's default).
std::string PreloadValue(const v1::StartServer& config);

// The last `max_chars` of a file, trimmed ("" when unreadable).
std::string TailOfFile(const FileSystem& files, const std::string& path, size_t max_chars);

// The server for `app` (redis, memcached, nginx), or InvalidArgument.
absl::StatusOr<std::unique_ptr<ServerApplication>> MakeServerApplication(const std::string& app,
                                                                         const WorkloadEnv& env);

}  // namespace iommuvm::agent
