#pragma once
// Parses memtier_benchmark's --json-out-file document, as each version's
// run_stats.cpp writes it (read from memtier's own source, tags 1.3.0 to
// 2.3.0 and master):
//   * 1.3: "ALL STATS" -> "Sets"/"Gets" with Ops/sec, KB/sec and "Latency"
//     (mean, ms); percentiles only as the histogram arrays "SET"/"GET" of
//     {"<=msec", "percent"}; no "Runtime", so the duration is "run
//     information"."Seconds" (a request-bounded 1.3 run is refused: its
//     document says neither how long it ran nor how many requests each
//     operation made).
//   * 1.4-2.2: also "Count", "Average/Min/Max Latency", "Percentile
//     Latencies" {"p50.000": ms, ...} and "Runtime"."Total duration" (ms;
//     "Time unit" from 2.0).
//   * 2.3 and later: "Runtime"."Interrupted" is "true" when the run was
//     stopped early; "Totals"."Connection Errors" counts failed connects.
// An interrupted run and connection errors are reported, not averaged
// away. Latencies are converted from milliseconds to microseconds. Also
// reads the live progress line memtier rewrites on stderr with \r.

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
  double duration_s = 0;                        // the run's, from the document
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
