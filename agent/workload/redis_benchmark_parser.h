#pragma once
// Parses what redis-benchmark prints into typed results, whatever the
// flags: --csv (7.x with latency columns, and the older two-column form),
// -q (one "requests per second" line per test, with \r progress noise) and
// the default report (per-test sections with percentile distribution and
// summary). Tool errors (connection refused, NOAUTH...) become errors that
// carry the tool's own words. Latencies are converted to microseconds.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::agent {

absl::StatusOr<std::vector<v1::OperationResult>> ParseRedisBenchmark(const std::string& output);

}  // namespace iommuvm::agent
