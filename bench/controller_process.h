#pragma once
// The real iommuvm-controller as a subprocess of a benchmark: loopback,
// port 0 for gRPC and /metrics (its log line says which ports it got), its
// database in the benchmark's scratch directory; and what can be measured
// of it from outside: /proc (CPU time, RSS, threads, open fds) and its own
// /metrics counters.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/command_runner.h"

namespace iommuvm::bench {

// What /proc says about a process at one instant.
struct ProcStats {
  double cpu_seconds = 0;  // user + system
  uint64_t rss_kib = 0;
  int threads = 0;
  int open_fds = 0;
};

absl::StatusOr<ProcStats> ReadProcStats(pid_t pid);
// CPU seconds (user + system) this process has used.
double OwnCpuSeconds();

// Share of one core `pid` used between two samples taken `wall` apart, in %.
inline double CpuPercent(const ProcStats& before, const ProcStats& after, absl::Duration wall) {
  return 100.0 * (after.cpu_seconds - before.cpu_seconds) / absl::ToDoubleSeconds(wall);
}

struct ControllerOptions {
  std::string binary;
  std::string dir;  // its database and log go here
  std::vector<std::string> extra_args;
  int nofile = 0;  // > 0: its RLIMIT_NOFILE soft limit (prlimit); else inherited
};

class ControllerProcess {
 public:
  // Starts it and waits (30 s at most) until it listens.
  static absl::StatusOr<std::unique_ptr<ControllerProcess>> Start(ControllerOptions options);
  ~ControllerProcess();

  const std::string& address() const { return address_; }  // 127.0.0.1:PORT
  pid_t pid() const { return process_->pid(); }
  const std::string& log_path() const { return log_path_; }
  // OK while it runs; otherwise how it ended, with its log's tail.
  absl::Status Alive();
  // SIGTERM, then the exit it made: OK only for a clean exit 0.
  absl::Status Stop();
  // The sum over every series of counter or gauge `name` in /metrics (0
  // when it has none yet).
  absl::StatusOr<double> Metric(const std::string& name) const;
  // The last `lines` lines of its log.
  std::string LogTail(int lines) const;
  // How many of its log lines contain `text`.
  int CountLog(const std::string& text) const;

 private:
  ControllerOptions options_;
  std::unique_ptr<Process> process_;
  std::string log_path_;
  std::string address_;
  int metrics_port_ = 0;
};

}  // namespace iommuvm::bench
