#pragma once
// Whether a measured run was served steadily: the server's own request
// rate (server_requests_per_second, sampled every telemetry interval on
// the server node; for servers that count no requests, iperf3 and
// sockperf, the node's packets per second) must not collapse during the
// load. A data-plane outage
// or a stalled server otherwise yields a low, plausible-looking number that
// generators such as wrk report without a single error (seen here with a
// veth cut mid-run: 3.2k req/s, 0 errors, instead of ~25k).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace iommuvm::results {

struct RateSample {
  int64_t ts_ms = 0;
  double value = 0;
};

// A description of the stall when one of the samples covering whole
// intervals inside the load ((start_ms + 1.5 intervals, end_ms - 1.5
// intervals)) falls below 1% of the highest rate the server reached during
// it; nullopt when the run was steady or there are fewer than three such
// samples to judge. (1%, not 0: the server's own probe of its counter keeps
// the rate slightly above 0 even when nothing else arrives.)
// `unit` names the rate in messages ("requests/s", "packets/s").
std::optional<std::string> FindStall(const std::vector<RateSample>& samples, int64_t start_ms,
                                     int64_t end_ms, int64_t interval_ms,
                                     const std::string& unit = "requests/s");

// What the server's own rate says about a measured load [start_ms, end_ms].
struct LoadJudgement {
  // Set when the run cannot count (retried as transient): no server
  // telemetry for the window, a hole in it, or a stall (FindStall).
  std::optional<std::string> failure;
  // Set when a whole interval inside the load ran below `unsteady_pct`% of
  // the run's median rate: counted, but marked.
  std::string unsteady;
};

// Judges a load from every server sample of the attempt. Each sample is
// the rate over the interval before its timestamp, so the window is
// covered when samples reach from within two intervals of its start to
// its end with no gap over 2.5 intervals.
LoadJudgement JudgeLoad(const std::vector<RateSample>& samples, int64_t start_ms, int64_t end_ms,
                        int64_t interval_ms, uint32_t unsteady_pct,
                        const std::string& unit = "requests/s");

}  // namespace iommuvm::results
