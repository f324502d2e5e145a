#pragma once
// Parses `sockperf ping-pong` output, as client.cpp of each version prints
// it (read from Mellanox/sockperf, tags 3.5 to 3.10):
//   sockperf: [Valid Duration] RunTime=1.550 sec; SentMessages=20386; ReceivedMessages=20386
//   sockperf: ====> avg-rtt=75.988 (std-dev=35.819)
//   sockperf: # dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0
//   sockperf: ---> <MAX> observation = 1110.376
//   sockperf: ---> percentile 99.999 = ... (99.990, 99.900, 99.000, 90.000, 75.000, 50.000, 25.000)
//   sockperf: ---> <MIN> observation =    8.647
// The average line is "avg-lat=" (3.5), "avg-latency=" or, with --full-rtt
// (3.6 and later), "avg-rtt="; 3.8 adds more statistics inside its
// parentheses. Without --full-rtt sockperf reports half the round trip, so
// those values are doubled: results are always round-trip times, like
// netperf TCP_RR. ANSI colour codes (sockperf prints them to files too) are
// ignored. Only the measured ("valid") part of the run counts.

#include <string>

#include "absl/status/statusor.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::agent {

// One "ping-pong" result: round trips per second, bytes per second (each
// round trip moves `message_size` bytes each way), round-trip latencies in
// µs (p95 is not printed by sockperf and stays 0), and the dropped,
// duplicated and out-of-order messages as errors by kind.
absl::StatusOr<v1::OperationResult> ParseSockperf(const std::string& output, uint32_t message_size);

}  // namespace iommuvm::agent
