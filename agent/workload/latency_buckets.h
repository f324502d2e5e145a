#pragma once
// Percentiles from a cumulative latency distribution, as redis-benchmark
// (its per-bucket "%.2f%% <= %.*f milliseconds" lines) and memtier_benchmark
// 1.3 (its JSON histogram) report it: (cumulative percent, upper bound ms)
// pairs in ascending order.

#include <utility>
#include <vector>

namespace iommuvm::agent {

// The upper bound (µs) of the first bucket whose cumulative percent reaches
// `percent`; the last bucket's when none does, 0 when there is none.
inline double PercentileUsFromBuckets(const std::vector<std::pair<double, double>>& buckets,
                                      double percent) {
  constexpr double kUsPerMs = 1000.0;
  for (const auto& [pct, ms] : buckets) {
    if (pct >= percent) return ms * kUsPerMs;
  }
  return buckets.empty() ? 0 : buckets.back().second * kUsPerMs;
}

}  // namespace iommuvm::agent
