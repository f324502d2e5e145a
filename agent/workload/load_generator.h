#pragma once
// LoadGenerator: a load tool run on the client node against a server
// (redis-benchmark, memtier_benchmark, memcaslap, wrk, wrk2, iperf3,
// sockperf).

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/workload/workload_env.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

struct LoadResult {
  std::string tool;
  std::string tool_version;
  std::vector<v1::OperationResult> operations;
  std::string raw_output;
  // Bytes the tool says it moved over the network in the measured run (0:
  // it does not say; PayloadBytes estimates).
  uint64_t payload_bytes = 0;
};

// The bytes a run moved at least: the tool's own count (payload_bytes),
// else 8 bytes per request (the least any request and reply of these
// protocols carry together).
uint64_t PayloadBytes(const LoadResult& result);
// Bytes per second over each operation's duration, summed: the count of
// tools whose throughput_bytes is measured (wrk's bytes read,
// memtier_benchmark's KB/sec), for their payload_bytes.
uint64_t MeasuredBytes(const std::vector<v1::OperationResult>& operations);

class LoadGenerator {
 public:
  // Throughput while the tool runs, for tools that report it periodically.
  using ProgressFn = std::function<void(double ops_per_second)>;

  virtual ~LoadGenerator() = default;
  // Asks for progress about every `interval`: a tool reporting more often
  // is averaged down to one value per interval, so the stream matches the
  // telemetry's (tools without periodic output ignore it).
  void set_progress(ProgressFn fn, absl::Duration interval) {
    progress_ = std::move(fn);
    progress_interval_ = interval;
  }
  // Whether the tool runs the warm-up itself (within the measured
  // connection, e.g. iperf3 --omit) instead of a separate unmeasured run.
  virtual bool WarmsUpItself() const { return false; }
  // Threads the tool runs the load on (its CPU time over them says how
  // busy the generator was): multi-threaded tools' ConcurrencyOf.
  virtual uint32_t Threads(const v1::RunLoad& load) const;
  // The tool's command line for `load` (exposed for tests and logs).
  virtual std::vector<std::string> CommandLine(const v1::RunLoad& load) const = 0;
  // Runs the tool to completion (killed at `timeout` or when `cancel` is
  // set) and parses its output. Errors carry the tool's own message.
  virtual absl::StatusOr<LoadResult> Run(const v1::RunLoad& load, const std::string& run_dir,
                                         absl::Duration timeout,
                                         const std::atomic<bool>* cancel) = 0;

 protected:
    bool wants_progress() const { return static_cast<bool>(progress_); }
  // A rate the tool just printed; passed on as the mean of the rates seen
  // once an interval has passed since the last report (the first at once).
    void ReportProgress(double ops_per_second, absl::Time now);

    ProgressFn progress_;
    absl::Duration progress_interval_ = absl::Seconds(1);

   private:
    absl::Time last_report_ = absl::InfinitePast();
    double pending_sum_ = 0;
    int pending_count_ = 0;
};

// Runs a tool's command line in `run_dir`, keeping stdout+stderr as
// `<run_dir>/<tool>.out` (the tool past a PinnedCommand prefix) and in
// `raw_output`. Errors only when it cannot be
// started.
absl::StatusOr<CommandResult> RunTool(const WorkloadEnv& env, std::vector<std::string> argv,
                                      const std::string& run_dir, absl::Duration timeout,
                                      const std::atomic<bool>* cancel, std::string* raw_output,
                                      std::function<void(absl::string_view)> on_stdout = {},
                                      std::function<void(absl::string_view)> on_stderr = {});
// The first line `argv` prints (stdout, else stderr); "" when it fails.
std::string ToolVersion(const WorkloadEnv& env, std::vector<std::string> argv);

// Connections (at least 1) and threads (the spec's, default 2, never more
// than connections) of a multi-threaded tool's run.
struct Concurrency {
  uint32_t clients;
  uint32_t threads;
};
Concurrency ConcurrencyOf(const v1::RunLoad& load);
// A time-bounded run's duration in whole seconds, rounded up, at least 1.
uint32_t DurationSeconds(const v1::RunLoad& load);
// Request/response tools (sockperf, netperf): bytes of each request and
// each reply, the spec's default 64 when unset.
uint32_t MessageSize(const v1::RunLoad& load);

// True when a tool's output says its connection to the server failed
// (reset, refused, timed out, no route; redis-benchmark's own words): an
// outage, not a broken setup.
bool SaysTheConnectionFailed(absl::string_view output);

// "12 errors (http_status 10, timeout 2)".
std::string DescribeErrors(const std::map<std::string, uint64_t>& by_kind);
// An error naming the tool, the operation and the errors by kind when an
// operation saw errors or no throughput: such a run measured something
// other than the server serving the workload. Unavailable (transient) when
// all errors are socket errors or timeouts, FailedPrecondition otherwise.
absl::Status RequireServedWithoutErrors(const std::string& tool,
                                        const std::vector<v1::OperationResult>& operations);

// The LoadGenerator for `tool`, or InvalidArgument.
absl::StatusOr<std::unique_ptr<LoadGenerator>> MakeLoadGenerator(const std::string& tool,
                                                                 const WorkloadEnv& env);

}  // namespace iommuvm::agent
