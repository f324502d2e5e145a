#include "spec/matrix.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "iommu/mode_names.h"
#include "spec/kernel_axis.h"
#include "spec/params.h"

namespace iommuvm::spec {
namespace {

// The value of `axis` at a point.
std::string ValueOf(const RunPoint& p, const std::string& axis) {
  if (axis == "iommu") return iommu::IommuModeName(p.iommu);
  if (axis == "workload") return p.workload;
  if (axis == "vm") return p.vm;
  if (axis == "repetition") return absl::StrCat(p.repetition);
  auto it = p.params.find(axis);
  return it == p.params.end() ? "" : it->second;
}

// Every combination of the user axes that mean something for `w` (one
// empty map when there are none): `rate: [10k/s, 20k/s]` doubles the wrk2
// workload's points, not the redis-benchmark one's.
std::vector<std::map<std::string, std::string>> UserCombinations(const MatrixSpec& m,
                                                                 const WorkloadSpec* w) {
  std::vector<std::map<std::string, std::string>> combos = {{}};
  for (const auto& [axis, values] : m.user_axes) {
    if (w == nullptr || !AxisAppliesTo(axis, *w)) continue;
    std::vector<std::map<std::string, std::string>> next;
    for (const auto& c : combos) {
      for (const auto& v : values) {
        auto extended = c;
        extended[axis] = v;
        next.push_back(std::move(extended));
      }
    }
    combos = std::move(next);
  }
  return combos;
}

uint64_t SaturatingMul(uint64_t a, uint64_t b) {
  if (a != 0 && b > UINT64_MAX / a) return UINT64_MAX;
  return a * b;
}

}  // namespace

bool Matches(const RunPoint& p, const PartialPoint& partial) {
  for (const auto& [axis, value] : partial) {
    if (ValueOf(p, axis) != value) return false;
  }
  return true;
}

uint64_t MatrixSizeBound(const ExperimentSpec& spec, std::string* why) {
  const MatrixSpec& m = spec.matrix;
  uint64_t workload_points = 0;
  for (const auto& workload : m.workload) {
    auto w = spec.workloads.find(workload);
    uint64_t combos = 1;
    for (const auto& [axis, values] : m.user_axes) {
      if (w == spec.workloads.end() || !AxisAppliesTo(axis, w->second)) continue;
      combos = SaturatingMul(combos, values.size());
    }
    workload_points = std::min<uint64_t>(UINT64_MAX - combos, workload_points) + combos;
  }
  uint64_t points = SaturatingMul(SaturatingMul(m.iommu.size(), m.vm.size()), workload_points);
  points = SaturatingMul(points, std::max<uint64_t>(1, m.kernel.size()));
  points = std::min<uint64_t>(UINT64_MAX - m.include.size(), points) + m.include.size();
  if (why != nullptr) {
    *why = absl::StrCat("iommu ", m.iommu.size(), " x vm ", m.vm.size(), " x workload points ",
                        workload_points);
    if (!m.kernel.empty()) absl::StrAppend(why, " x kernel ", m.kernel.size());
    std::vector<std::string> axes;
    for (const auto& [axis, values] : m.user_axes) {
      axes.push_back(absl::StrCat(axis, " ", values.size()));
    }
    if (!axes.empty()) absl::StrAppend(why, " (", absl::StrJoin(axes, " x "), ")");
    absl::StrAppend(why, " x repetitions ", spec.repetitions);
  }
  return SaturatingMul(points, spec.repetitions);
}

std::vector<RunPoint> ExpandMatrix(const ExperimentSpec& spec) {
  const MatrixSpec& m = spec.matrix;
  std::vector<RunPoint> points;  // one repetition each
  // No kernel axis: one pass with no kernel value.
  std::vector<std::string> kernels = m.kernel.empty() ? std::vector<std::string>{""} : m.kernel;
  for (const std::string& kernel : kernels) {
    for (v1::IommuMode mode : m.iommu) {
      for (const auto& vm : m.vm) {
        for (const auto& workload : m.workload) {
          auto w = spec.workloads.find(workload);
          auto combos = UserCombinations(m, w == spec.workloads.end() ? nullptr : &w->second);
          for (const auto& params : combos) {
            RunPoint p;
            p.iommu = mode;
            p.workload = workload;
            p.vm = vm;
            p.params = params;
            if (!kernel.empty()) p.params[kKernelAxis] = kernel;
            bool excluded = false;
            for (const auto& e : m.exclude) excluded = excluded || Matches(p, e);
            if (!excluded) points.push_back(std::move(p));
          }
        }
      }
    }
  }
  for (const PartialPoint& inc : m.include) {
    RunPoint p;
    iommu::ParseIommuModeName(inc.at("iommu"), &p.iommu);
    p.workload = inc.at("workload");
    p.vm = inc.at("vm");
    for (const auto& [axis, value] : inc) {
      if (axis != "iommu" && axis != "workload" && axis != "vm") p.params[axis] = value;
    }
    // With a kernel axis every point has a kernel: the first, unless named.
    if (!m.kernel.empty() && !p.params.count(kKernelAxis)) p.params[kKernelAxis] = m.kernel[0];
    bool present = false;
    for (const auto& q : points) {
      present = present || (q.iommu == p.iommu && q.workload == p.workload && q.vm == p.vm &&
                            q.params == p.params);
    }
    if (!present) points.push_back(std::move(p));
  }
  std::vector<RunPoint> runs;
  runs.reserve(points.size() * spec.repetitions);
  for (const RunPoint& p : points) {
    for (uint32_t rep = 1; rep <= spec.repetitions; ++rep) {
      RunPoint r = p;
      r.index = static_cast<uint32_t>(runs.size());
      r.repetition = rep;
      runs.push_back(std::move(r));
    }
  }
  return runs;
}

}  // namespace iommuvm::spec
