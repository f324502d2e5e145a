#pragma once
// Parses what redis-benchmark prints into typed results, whatever the
// flags: --csv (7.x with latency columns, and the older two-column form),
// -q (one "requests per second" line per test, with \r progress noise) and
// the default report (per-test sections with percentile distribution and
// summary). Tool errors (connection refused, NOAUTH...) become errors that
// carry the tool's own words. Latencies are converted to microseconds.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/workload/line_stream.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::agent {

absl::StatusOr<std::vector<v1::OperationResult>> ParseRedisBenchmark(const std::string& output);

// Reads the default report's progress lines as they arrive
// ("\rGET: rps=103458.2 (overall: 103458.2) avg_msec=0.251 ...", about every
// 250 ms) and reports each positive instantaneous rate.
class RedisBenchmarkProgress {
 public:
  explicit RedisBenchmarkProgress(std::function<void(double)> on_rps)
      : on_rps_(std::move(on_rps)) {}
  void Feed(absl::string_view chunk);

 private:
  std::function<void(double)> on_rps_;
  LineStream lines_{"\r\n"};
};

}  // namespace iommuvm::agent
