#pragma once
// Parses wrk/wrk2 output. The agent runs them with a Lua done() hook
// (WrkReportScript) that prints one machine-readable line,
//   IOMMUVM_RESULT requests=.. duration_us=.. bytes=.. connect=.. read=..
//   write=.. status=.. timeout=.. mean=.. min=.. max=.. p50=.. p90=.. p99=.. p999=..
// so nothing depends on the human report's units ("1.20ms", "35.82k").
// Errors: wrk's own message ("unable to connect to ... Connection refused")
// when it printed no result; a result with errors is returned as is (the
// caller fails the run with the counts).

#include <string>

#include "absl/status/statusor.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::agent {

// The Lua script that makes wrk print the IOMMUVM_RESULT line.
const std::string& WrkReportScript();

// One "GET" result: throughput, bytes/s, latencies in µs, requests, errors
// (sum of connect/read/write/timeout and non-2xx/3xx status), duration.
absl::StatusOr<v1::OperationResult> ParseWrk(const std::string& output);

}  // namespace iommuvm::agent
