#pragma once
// Parses one `iperf3 -c ... -J` document, as iperf_api.c of each version
// writes it (read from esnet/iperf, tags 3.7 to 3.16): "end"."sum_sent"
// and "end"."sum_received" with "bytes" and "seconds" (both exclude the
// --omit warm-up), "sum_sent"."retransmits" (TCP on Linux), and a top-level
// "error" string when the test failed ("unable to connect to server:
// Connection refused"). Throughput is what the receiver got over the
// measured interval (goodput).

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace iommuvm::agent {

struct Iperf3Flow {
  uint64_t bytes_received = 0;
  double seconds = 0;  // the receiver's measured interval
  uint64_t bytes_sent = 0;
  uint64_t retransmits = 0;
  double sender_cpu_percent = 0;  // end.cpu_utilization_percent.host_total
};

// Unavailable for a connection failure (transient), FailedPrecondition for
// any other error iperf3 reports, InvalidArgument for output that is not
// an iperf3 document.
absl::StatusOr<Iperf3Flow> ParseIperf3Json(const std::string& output);

}  // namespace iommuvm::agent
