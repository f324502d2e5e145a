#pragma once
// The shape every server under test shares: write its config into the run
// directory, start it (pinned with taskset when cores are given) bound to
// the data-plane address, wait until it answers its own protocol, populate
// it when asked, and stop it — also when the run fails or is cancelled.
// Subclasses say how to configure, probe and preload their server.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "agent/workload/application.h"

namespace iommuvm::agent {

class ServerApplication : public Application {
 public:
  explicit ServerApplication(const WorkloadEnv& env) : env_(env) {}
  ~ServerApplication() override { Stop(); }
  absl::StatusOr<uint32_t> Start(const v1::StartServer& config, const std::string& host,
                                 const std::string& run_dir, absl::Duration timeout) final;
  bool Stop() final;
  bool Running() final;
  absl::StatusOr<uint64_t> RequestsServed() final;

 protected:
  // The program's name (log file and messages).
  virtual std::string name() const = 0;
  // Writes config files into `run_dir`; returns the command line.
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
  std::unique_ptr<Process> process_;
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

}  // namespace iommuvm::agent
