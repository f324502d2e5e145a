#pragma once
// What a mode switch costs the planner, from the switches nodes really
// made (store::SwitchTimes: request to the new mode verified), not from
// constants: per method, the median of the switches the experiment's
// server nodes made with it, else of every node's, else the planner's
// typical cost (planner::DefaultSwitchCosts).

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "controller/store/store.h"

namespace iommuvm::scheduler {

std::map<std::string, absl::Duration> SwitchCostsFor(const std::vector<store::SwitchTime>& times,
                                                     const std::set<std::string>& nodes);

// One node's switches per method: the median and how many.
struct MeasuredSwitch {
  absl::Duration median;
  size_t count = 0;
};
std::map<std::string, MeasuredSwitch> SwitchesOf(const std::vector<store::SwitchTime>& times,
                                                 const std::string& node);

}  // namespace iommuvm::scheduler
