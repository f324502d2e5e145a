#pragma once
// The plan one experiment is executing: for each of its pairs, the pending
// attempts in the planner's order (boots grouped, VM configs grouped,
// seeded shuffle). The scheduler starts a pair's next attempt when the pair
// is free, and re-plans what is still pending when the pairs change (a pair
// lost, a pair joined) or a run is retried. Kept in memory; after a
// controller restart it is rebuilt from the store's pending attempts.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "controller/scheduler/pairing.h"
#include "planner/planner.h"
#include "spec/spec.h"

namespace iommuvm::scheduler {

// What a pair's server runs now: its host mode (UNSPECIFIED when unknown)
// and, with a kernel axis, the axis value naming the kernel it runs ("" =
// none of them, or no axis).
struct BootedAs {
  v1::IommuMode mode = v1::IOMMU_MODE_UNSPECIFIED;
  std::string kernel;
};

struct PendingRun {
  int64_t attempt_id = 0;
  spec::RunPoint point;  // index is ignored (re-numbered for the planner)
};

class PlanQueue {
 public:
  // Plans `pending` over `pairs`. `booted` is what each pair's server runs:
  // a pair already in the (kernel, mode) of a planned sequence's first boot
  // gets that sequence, so it starts without a switch. `switch_costs`: per
  // method (switch_costs.h; default planner::DefaultSwitchCosts).
  void Replan(
      const spec::ExperimentSpec& spec, const std::vector<PendingRun>& pending,
      const std::vector<NodePair>& pairs, const std::map<NodePair, BootedAs>& booted,
      const std::map<std::string, absl::Duration>& switch_costs = planner::DefaultSwitchCosts());

  // The next attempt planned for `pair`, if any; Pop removes it.
  std::optional<int64_t> Next(const NodePair& pair) const;
  void Pop(const NodePair& pair);

  // Forces a re-plan at the next opportunity (a run was retried).
  void Invalidate() { valid_ = false; }
  bool valid() const { return valid_; }
  const std::vector<NodePair>& pairs() const { return pairs_; }
  // Attempts still queued on `pair` / on all pairs.
  size_t Queued(const NodePair& pair) const;
  size_t Queued() const;
  // The planner's estimate for the remaining runs (0 when nothing queued).
  absl::Duration makespan() const { return makespan_; }

 private:
  bool valid_ = false;
  std::vector<NodePair> pairs_;
  std::map<NodePair, std::deque<int64_t>> queues_;
  absl::Duration makespan_;
};

}  // namespace iommuvm::scheduler
