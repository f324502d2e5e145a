#pragma once
// `iommuvm compare`: an experiment's results grouped by workload, VM, user
// parameters and operation, one row per IOMMU mode with the mean over the
// repetitions, its confidence interval, and the change against a baseline
// mode with its interval — what the protection costs, with the noise
// shown. Only succeeded runs count; a run in mode `current` counts under
// the mode its node was verified to run.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "iommuvm/v1/controller.pb.h"
#include "results/statistics.h"

namespace iommuvm::results {

struct CompareOptions {
  // throughput (ops/s), gbps (Gbit/s of payload), p50, p90, p99, p999
  // (latency µs), cpu (server %).
  std::string metric = "throughput";
  // The mode the others are compared with; "" = the first present of off,
  // passthrough, lazy, strict.
  std::string baseline;
  double confidence = 0.95;
  // Compare runs on simulated nodes too (their modes were generated, not
  // measured): refused unless asked, and marked in every row.
  bool allow_simulated = false;
};

struct ComparisonRow {
  std::string workload;
  std::string vm;
  std::string params;  // "clients=16,rate=50k/s"
  std::string operation;
  std::string mode;
  Summary summary;
  bool is_baseline = false;
  std::optional<Change> change;  // vs the baseline mode of the same group
  bool simulated = false;        // some of its runs ran on a simulated node
  uint32_t unsteady = 0;         // of summary.n runs, those marked unsteady
  // The IOMMU work behind each request (means over the runs; 0 when the
  // server's kernel tracepoints were not counted).
  double maps_per_request = 0;
  double unmaps_per_request = 0;
  double invalidations_per_request = 0;
  double softirq_us_per_request = 0;  // the pinned cores' softirq time (0: not pinned)
  // What limited its runs (results/bottleneck.h), joined with '+' when
  // they differ ("link", "link+server-cpu"); "" when none was judged.
  std::string bottleneck;
};

// One line per mode whose runs were limited by something other than its
// group's baseline ("redis GET: off was limited by link, strict by
// server-cpu: ..."): such a change mixes two limits.
std::vector<std::string> BottleneckWarnings(const std::vector<ComparisonRow>& rows);

// "gbps" when every result is of a bulk tool (bytes moved, no requests:
// iperf3), else "throughput".
std::string DefaultMetric(const std::vector<v1::ResultRow>& rows);

// InvalidArgument for an unknown metric or a baseline no group has;
// FailedPrecondition when runs ran on simulated nodes and
// options.allow_simulated is false.
absl::StatusOr<std::vector<ComparisonRow>> Compare(const std::vector<v1::ResultRow>& rows,
                                                   const CompareOptions& options);

}  // namespace iommuvm::results
