#include "controller/scheduler/rerun.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "spec/matrix.h"

namespace iommuvm::scheduler {

absl::StatusOr<spec::PartialPoint> ParseCell(const spec::ExperimentSpec& spec,
                                             const std::string& text) {
  std::vector<std::string> axes = {"iommu", "workload", "vm", "repetition"};
  for (const auto& [axis, values] : spec.matrix.user_axes) axes.push_back(axis);
  spec::PartialPoint cell;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::vector<std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty() || kv[1].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--cell '", part, "' is not AXIS=VALUE (e.g. iommu=strict)"));
    }
    if (std::find(axes.begin(), axes.end(), kv[0]) == axes.end()) {
      return absl::InvalidArgumentError(absl::StrCat("--cell: '", kv[0],
                                                     "' is not an axis of this experiment; its "
                                                     "axes: ",
                                                     absl::StrJoin(axes, ", ")));
    }
    cell[kv[0]] = kv[1];
  }
  if (cell.empty()) return absl::InvalidArgumentError("--cell needs AXIS=VALUE[,AXIS=VALUE...]");
  return cell;
}

std::vector<int64_t> SelectRerun(const std::vector<store::RunRecord>& runs,
                                 const std::map<int64_t, const store::AttemptRecord*>& latest,
                                 const RerunOptions& options) {
  std::vector<int64_t> selected;
  for (const store::RunRecord& r : runs) {
    bool in_cell = options.cells.empty();
    for (const auto& cell : options.cells) in_cell = in_cell || spec::Matches(r.point, cell);
    if (!in_cell) continue;
    bool failed = r.state == store::RunState::kFailed || r.state == store::RunState::kCancelled;
    bool unsteady = false;
    if (r.state == store::RunState::kSucceeded) {
      auto a = latest.find(r.id);
      if (a != latest.end() && a->second != nullptr) {
        auto u = a->second->evidence.find(store::kUnsteadyKey);
        unsteady = u != a->second->evidence.end() && !u->second.empty();
      }
    }
    if ((options.failed && failed) || (options.unsteady && unsteady)) selected.push_back(r.id);
  }
  return selected;
}

}  // namespace iommuvm::scheduler
