#include "results/steady_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace iommuvm::results {

std::optional<std::string> FindStall(const std::vector<RateSample>& samples, int64_t start_ms,
                                     int64_t end_ms, int64_t interval_ms, const std::string& unit) {
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
      "%.1f s after it started; it had reached %.0f %s): the data plane or the server "
      "stalled, so the result is not a steady-state measurement",
      stalled, static_cast<int>(inside.size()), (first - start_ms) / 1000.0, peak, unit);
}

namespace {

std::optional<std::string> CoverageGap(const std::vector<RateSample>& samples, int64_t start_ms,
                                       int64_t end_ms, int64_t interval_ms) {
  std::vector<int64_t> ts;
  for (const RateSample& s : samples) {
    if (s.ts_ms >= start_ms && s.ts_ms <= end_ms + 2 * interval_ms) ts.push_back(s.ts_ms);
  }
  std::sort(ts.begin(), ts.end());
  double window_s = (end_ms - start_ms) / 1000.0;
  if (ts.empty()) {
    return absl::StrFormat(
        "no server telemetry for the load window (%.1f s): the server node's samples did not "
        "arrive, so a stall cannot be ruled out",
        window_s);
  }
  // Edges: the first sample within two intervals of the start (or the load
  // was shorter), and one at or after the end.
  int64_t worst = std::max<int64_t>(ts.front() - start_ms - interval_ms, 0);
  if (ts.back() < end_ms) worst = std::max(worst, end_ms - ts.back());
  for (size_t i = 1; i < ts.size(); ++i) {
    if (ts[i - 1] > end_ms) break;
    worst = std::max(worst, ts[i] - ts[i - 1]);
  }
  bool short_load = end_ms - start_ms < 2 * interval_ms;
  if ((short_load && ts.back() >= end_ms) || worst <= interval_ms * 5 / 2) return std::nullopt;
  return absl::StrFormat(
      "server telemetry missing for %.1f s of the %.1f s load window (samples every %.1f s): a "
      "stall cannot be ruled out",
      worst / 1000.0, window_s, interval_ms / 1000.0);
}

std::string FindUnsteady(const std::vector<RateSample>& samples, int64_t start_ms, int64_t end_ms,
                         int64_t interval_ms, uint32_t pct, const std::string& unit) {
  if (pct == 0) return "";
  std::vector<RateSample> inside;
  for (const RateSample& s : samples) {
    if (s.ts_ms > start_ms + interval_ms * 3 / 2 && s.ts_ms < end_ms - interval_ms * 3 / 2) {
      inside.push_back(s);
    }
  }
  if (inside.size() < 3) return "";
  std::vector<double> values;
  for (const RateSample& s : inside) values.push_back(s.value);
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  double median = values[values.size() / 2];
  int below = 0;
  const RateSample* worst = nullptr;
  for (const RateSample& s : inside) {
    if (s.value >= median * pct / 100.0) continue;
    ++below;
    if (worst == nullptr || s.value < worst->value) worst = &s;
  }
  if (below == 0) return "";
  return absl::StrFormat(
      "%d of %d intervals below %u%% of the median %.0f %s (lowest %.0f at %.1f s)", below,
      static_cast<int>(inside.size()), pct, median, unit, worst->value,
      (worst->ts_ms - start_ms) / 1000.0);
}

}  // namespace

LoadJudgement JudgeLoad(const std::vector<RateSample>& samples, int64_t start_ms, int64_t end_ms,
                        int64_t interval_ms, uint32_t unsteady_pct, const std::string& unit) {
  LoadJudgement j;
  j.failure = CoverageGap(samples, start_ms, end_ms, interval_ms);
  if (!j.failure) j.failure = FindStall(samples, start_ms, end_ms, interval_ms, unit);
  if (!j.failure) {
    j.unsteady = FindUnsteady(samples, start_ms, end_ms, interval_ms, unsteady_pct, unit);
  }
  return j;
}

}  // namespace iommuvm::results
