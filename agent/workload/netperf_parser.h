#pragma once
// Parses netperf's TCP_RR result in its keyword output (`-- -k SELECTORS`),
// as src/nettest_omni.c prints it (print_omni_keyword: one
// "SELECTOR=value" line per selector, in the order asked, each value in the
// selector's own format: TRANSACTION_RATE "%.3f", MEAN_LATENCY and
// STDDEV_LATENCY "%.2f", MIN/MAX/P50/P90/P99_LATENCY "%d" µs,
// ELAPSED_TIME "%.2f" s, REQUEST_SIZE and RESPONSE_SIZE "%d" bytes). The
// same since netperf 2.5 (the omni tests); 2.7.0 is what Ubuntu 20.04 to
// 24.04 package. Latencies are round trips (a TCP_RR transaction is one).
// netperf is not a Debian 12 package; it runs where a node has it.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::agent {

// The output selectors the generator asks for, in order.
const std::vector<std::string>& NetperfSelectors();

// One "TCP_RR" result: transactions per second and in all, bytes per
// second (request + response per transaction), round-trip latencies in µs
// (p99.9 is not printed and stays 0). No TRANSACTION_RATE: netperf's own
// first line as the error ("establish control: are you sure there is a
// netserver listening on ...").
absl::StatusOr<v1::OperationResult> ParseNetperf(const std::string& output);

}  // namespace iommuvm::agent
