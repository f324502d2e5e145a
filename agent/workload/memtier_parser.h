#pragma once
// Parses memtier_benchmark's --json-out-file document (1.3 and newer, the
// versions with --print-percentiles): "ALL STATS" -> "Sets"/"Gets" ->
// Ops/sec, KB/sec, Count, Average/Min/Max Latency and "Percentile
// Latencies" {"p50.00": ms, ...}; the run's duration from "Runtime"; an
// interrupted run ("benchmark_completion".full_run false) and connection
// errors are reported, not averaged away. Latencies are converted from
// milliseconds to microseconds. Also reads the live progress line memtier
// rewrites on stderr with \r.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/workload/line_stream.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::agent {

struct MemtierReport {
  std::vector<v1::OperationResult> operations;  // SET, GET (those that ran)
  double duration_s = 0;                        // 0 when the document lacks it
  bool interrupted = false;                     // stopped before the full run
  std::map<std::string, uint64_t> errors;       // run-wide, by kind ("connection")
};

absl::StatusOr<MemtierReport> ParseMemtierJson(const std::string& json);

// "[RUN #1 50%,   5 secs]  4 threads:     500000 ops,  100000 (avg:   99000)
// ops/sec, ..." -> 100000, the current second's rate.
class MemtierProgress {
 public:
  explicit MemtierProgress(std::function<void(double)> on_ops) : on_ops_(std::move(on_ops)) {}
  void Feed(absl::string_view chunk);

 private:
  std::function<void(double)> on_ops_;
  LineStream lines_{"\r\n"};
};

}  // namespace iommuvm::agent
