#include "controller/scheduler/plan_queue.h"

#include <set>

namespace iommuvm::scheduler {

void PlanQueue::Replan(const spec::ExperimentSpec& spec, const std::vector<PendingRun>& pending,
                       const std::vector<NodePair>& pairs,
                       const std::map<NodePair, BootedAs>& booted,
                       const std::map<std::string, absl::Duration>& switch_costs) {
  valid_ = true;
  pairs_ = pairs;
  queues_.clear();
  makespan_ = absl::ZeroDuration();
  if (pairs.empty() || pending.empty()) return;

  std::vector<spec::RunPoint> runs;
  runs.reserve(pending.size());
  for (const PendingRun& p : pending) {
    runs.push_back(p.point);
    runs.back().index = static_cast<uint32_t>(runs.size() - 1);
  }
  planner::Plan plan = planner::MakePlan(
      runs, planner::OptionsForSpec(spec, static_cast<uint32_t>(pairs.size()), switch_costs));
  makespan_ = plan.makespan;

  // Planned sequences to real pairs: first those whose first boot matches
  // a pair's current mode, then the rest in order.
  std::vector<bool> taken(plan.pairs.size(), false);
  std::map<NodePair, size_t> chosen;
  for (const NodePair& pair : pairs) {
    auto it = booted.find(pair);
    if (it == booted.end()) continue;
    for (size_t i = 0; i < plan.pairs.size(); ++i) {
      if (!taken[i] && !plan.pairs[i].boots.empty() &&
          plan.pairs[i].boots.front().mode == it->second.mode &&
          plan.pairs[i].boots.front().kernel == it->second.kernel) {
        taken[i] = true;
        chosen[pair] = i;
        break;
      }
    }
  }
  size_t next = 0;
  for (const NodePair& pair : pairs) {
    if (chosen.count(pair)) continue;
    while (taken[next]) ++next;
    taken[next] = true;
    chosen[pair] = next;
  }
  for (const auto& [pair, i] : chosen) {
    std::deque<int64_t>& q = queues_[pair];
    for (const planner::Boot& boot : plan.pairs[i].boots) {
      for (uint32_t r : boot.runs) q.push_back(pending[r].attempt_id);
    }
  }
}

std::optional<int64_t> PlanQueue::Next(const NodePair& pair) const {
  auto it = queues_.find(pair);
  if (it == queues_.end() || it->second.empty()) return std::nullopt;
  return it->second.front();
}

void PlanQueue::Pop(const NodePair& pair) {
  auto it = queues_.find(pair);
  if (it != queues_.end() && !it->second.empty()) it->second.pop_front();
}

size_t PlanQueue::Queued(const NodePair& pair) const {
  auto it = queues_.find(pair);
  return it == queues_.end() ? 0 : it->second.size();
}

size_t PlanQueue::Queued() const {
  size_t n = 0;
  for (const auto& [_, q] : queues_) n += q.size();
  return n;
}

}  // namespace iommuvm::scheduler
