#include "results/comparison.h"

#include <algorithm>
#include <array>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spec/spec.h"

namespace iommuvm::results {
namespace {

// Modes from least to most protection: the natural order of a cost table.
constexpr const char* kModeOrder[] = {"off", "passthrough", "lazy", "strict"};

int ModeRank(const std::string& mode) {
  for (int i = 0; i < 4; ++i) {
    if (mode == kModeOrder[i]) return i;
  }
  return 4;  // mixed, unknown
}

bool MetricOf(const v1::ResultRow& r, const std::string& metric, double* out) {
  const v1::OperationResult& o = r.result();
  if (metric == "throughput")
    *out = o.throughput_ops();
  else if (metric == "gbps")
    *out = o.throughput_bytes() * 8 / 1e9;
  else if (metric == "p50")
    *out = o.latency_p50_us();
  else if (metric == "p90")
    *out = o.latency_p90_us();
  else if (metric == "p99")
    *out = o.latency_p99_us();
  else if (metric == "p999")
    *out = o.latency_p999_us();
  else if (metric == "cpu")
    *out = r.server_cpu_utilization() * 100;
  else
    return false;
  return true;
}

// The mode a row counts under: the requested one, or what the node ran.
// A VM run counts under its guest's verified mode (the host's is part of
// its group).
std::string ModeOf(const v1::ResultRow& r) {
  if (!r.vm_shape().empty()) return r.detected_mode().empty() ? "unknown" : r.detected_mode();
  if (r.iommu() == v1::IOMMU_MODE_CURRENT) {
    return r.detected_mode().empty() ? "current" : r.detected_mode();
  }
  return iommu::IommuModeName(r.iommu());
}

// VM runs group by their guest's shape and the host's mode, so guests that
// differ only in their mode compare side by side.
std::string VmOf(const v1::ResultRow& r) {
  if (r.vm_shape().empty()) return r.vm();
  std::string host = r.iommu() == v1::IOMMU_MODE_CURRENT ? r.host_mode()
                                                          : iommu::IommuModeName(r.iommu());
  return absl::StrCat(r.vm_shape(), ", host ", host.empty() ? "unknown" : host);
}

std::string Params(const v1::ResultRow& r) {
  std::vector<std::string> parts;
  std::map<std::string, std::string> sorted(r.params().begin(), r.params().end());
  for (const auto& [k, v] : sorted) parts.push_back(absl::StrCat(k, "=", v));
  return absl::StrJoin(parts, ",");
}

}  // namespace

absl::StatusOr<std::vector<ComparisonRow>> Compare(const std::vector<v1::ResultRow>& rows,
                                                   const CompareOptions& options) {
  double probe;
  if (!MetricOf(v1::ResultRow(), options.metric, &probe)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metric '", options.metric, "' is not one of throughput, gbps, p50, p90, p99, p999, cpu"));
  }
  using Group = std::tuple<std::string, std::string, std::string, std::string>;
  std::map<Group, std::map<std::string, std::vector<double>>> values;
  std::set<std::pair<Group, std::string>> simulated;
  std::map<std::pair<Group, std::string>, uint32_t> unsteady;
  std::map<std::pair<Group, std::string>, std::set<std::string>> bottlenecks;
  // Per request: maps, unmaps, invalidations, softirq µs.
  std::map<std::pair<Group, std::string>, std::array<std::vector<double>, 4>> iommu_work;
  for (const auto& r : rows) {
    if (r.state() != v1::RUN_STATE_SUCCEEDED || !r.has_result()) continue;
    if (r.simulated() && !options.allow_simulated) {
      return absl::FailedPreconditionError(
          "this experiment ran on simulated nodes (--simulate_boot): their IOMMU modes were "
          "generated, not measured, so a mode's cost cannot be read from them; pass "
          "--allow-simulated to compare anyway (every row is then marked)");
    }
    std::pair<Group, std::string> cell{{r.workload(), VmOf(r), Params(r), r.result().operation()},
                                       ModeOf(r)};
    auto& work = iommu_work[cell];
    work[0].push_back(r.iommu_maps_per_request());
    work[1].push_back(r.iommu_unmaps_per_request());
    work[2].push_back(r.iommu_invalidations_per_request());
    work[3].push_back(r.softirq_us_per_request());
    if (!r.unsteady().empty()) ++unsteady[cell];
    if (!r.bottleneck().empty()) bottlenecks[cell].insert(r.bottleneck());
    if (r.simulated()) simulated.insert(cell);
    double v = 0;
    MetricOf(r, options.metric, &v);
    values[cell.first][cell.second].push_back(v);
  }
  bool baseline_seen = options.baseline.empty();
  std::vector<ComparisonRow> out;
  for (const auto& [group, by_mode] : values) {
    std::vector<std::string> modes;
    for (const auto& [mode, v] : by_mode) modes.push_back(mode);
    std::sort(modes.begin(), modes.end(), [](const std::string& a, const std::string& b) {
      return std::make_pair(ModeRank(a), a) < std::make_pair(ModeRank(b), b);
    });
    std::string baseline = options.baseline.empty() ? modes.front() : options.baseline;
    std::optional<Summary> base;
    if (by_mode.count(baseline)) {
      base = Summarize(by_mode.at(baseline), options.confidence);
      baseline_seen = true;
    }
    for (const std::string& mode : modes) {
      ComparisonRow row;
      std::tie(row.workload, row.vm, row.params, row.operation) = group;
      row.mode = mode;
      row.summary = Summarize(by_mode.at(mode), options.confidence);
      row.is_baseline = base && mode == baseline;
      row.simulated = simulated.count({group, mode}) > 0;
      const auto& work = iommu_work[{group, mode}];
      row.maps_per_request = Summarize(work[0], options.confidence).mean;
      row.unmaps_per_request = Summarize(work[1], options.confidence).mean;
      row.invalidations_per_request = Summarize(work[2], options.confidence).mean;
      row.softirq_us_per_request = Summarize(work[3], options.confidence).mean;
      auto u = unsteady.find({group, mode});
      row.unsteady = u == unsteady.end() ? 0 : u->second;
      row.bottleneck = absl::StrJoin(bottlenecks[{group, mode}], "+");
      if (base && !row.is_baseline) {
        row.change = RelativeChange(row.summary, *base, options.confidence);
      }
      out.push_back(std::move(row));
    }
  }
  if (!baseline_seen) {
    return absl::InvalidArgumentError(
        absl::StrCat("no succeeded run in mode '", options.baseline, "' to compare against"));
  }
  return out;
}

std::vector<std::string> BottleneckWarnings(const std::vector<ComparisonRow>& rows) {
  std::vector<std::string> warnings;
  const ComparisonRow* baseline = nullptr;
  for (const ComparisonRow& r : rows) {
    if (r.is_baseline) baseline = &r;
    bool same_group = baseline != nullptr && baseline->workload == r.workload &&
                      baseline->vm == r.vm && baseline->params == r.params &&
                      baseline->operation == r.operation;
    if (!same_group || r.is_baseline || r.bottleneck == baseline->bottleneck) continue;
    auto limit = [](const ComparisonRow& x) {
      return x.bottleneck.empty() ? std::string("not judged") : x.bottleneck;
    };
    warnings.push_back(absl::StrCat(
        r.workload, " ", r.operation, r.vm == "bare-metal" ? "" : absl::StrCat(" (", r.vm, ")"),
        r.params.empty() ? "" : absl::StrCat(" [", r.params, "]"), ": ", baseline->mode,
        " was limited by ", limit(*baseline), ", ", r.mode, " by ", limit(r),
        ": the change compares two different limits, not the IOMMU mode alone"));
  }
  return warnings;
}

std::string DefaultMetric(const std::vector<v1::ResultRow>& rows) {
  bool any = false;
  for (const auto& r : rows) {
    if (!r.has_result()) continue;
    any = true;
    if (r.result().throughput_ops() > 0 || r.result().throughput_bytes() <= 0) return "throughput";
  }
  return any ? "gbps" : "throughput";
}

}  // namespace iommuvm::results
