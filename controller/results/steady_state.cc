#include "controller/results/steady_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace iommuvm::results {

std::optional<std::string> FindStall(const std::vector<RateSample>& samples, int64_t start_ms,
                                     int64_t end_ms, int64_t interval_ms) {
  // The rate the server reached during the load, and the samples that
  // cover whole intervals inside it: each sample is the rate over the
  // interval before it, so keep half an interval to spare on both sides.
  double peak = 0;
  std::vector<RateSample> inside;
  for (const RateSample& s : samples) {
    if (s.ts_ms < start_ms || s.ts_ms > end_ms) continue;
    peak = std::max(peak, s.value);
    if (s.ts_ms > start_ms + interval_ms * 3 / 2 && s.ts_ms < end_ms - interval_ms * 3 / 2) {
      inside.push_back(s);
    }
  }
  if (inside.size() < 3 || peak <= 0) return std::nullopt;
  int stalled = 0;
  int64_t first = 0;
  for (const RateSample& s : inside) {
    if (s.value >= 0.01 * peak) continue;
    if (stalled++ == 0) first = s.ts_ms;
  }
  if (stalled == 0) return std::nullopt;
  return absl::StrFormat(
      "the server served almost nothing in %d of %d telemetry intervals of the run (from "
      "%.1f s after it started; it had reached %.0f requests/s): the data plane or the server "
      "stalled, so the result is not a steady-state measurement",
      stalled, static_cast<int>(inside.size()), (first - start_ms) / 1000.0, peak);
}

}  // namespace iommuvm::results
