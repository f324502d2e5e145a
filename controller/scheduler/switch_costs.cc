#include "controller/scheduler/switch_costs.h"

#include <algorithm>

#include "planner/planner.h"

namespace iommuvm::scheduler {
namespace {

absl::Duration Median(std::vector<absl::Duration> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

std::map<std::string, absl::Duration> SwitchCostsFor(const std::vector<store::SwitchTime>& times,
                                                     const std::set<std::string>& nodes) {
  std::map<std::string, absl::Duration> costs = planner::DefaultSwitchCosts();
  for (auto& [method, cost] : costs) {
    std::vector<absl::Duration> mine, everyone;
    for (const store::SwitchTime& t : times) {
      if (t.method != method) continue;
      everyone.push_back(t.took);
      if (nodes.count(t.node)) mine.push_back(t.took);
    }
    if (!mine.empty()) {
      cost = Median(std::move(mine));
    } else if (!everyone.empty()) {
      cost = Median(std::move(everyone));
    }
  }
  return costs;
}

std::map<std::string, MeasuredSwitch> SwitchesOf(const std::vector<store::SwitchTime>& times,
                                                 const std::string& node) {
  std::map<std::string, std::vector<absl::Duration>> by_method;
  for (const store::SwitchTime& t : times) {
    if (t.node == node) by_method[t.method].push_back(t.took);
  }
  std::map<std::string, MeasuredSwitch> out;
  for (auto& [method, took] : by_method) {
    out[method] = {Median(took), took.size()};
  }
  return out;
}

}  // namespace iommuvm::scheduler
