#pragma once
// The planner: orders an experiment's runs so nodes switch IOMMU mode as
// rarely as possible and spreads them over N server/client pairs.
//
// Policy. Runs sharing a boot config form a boot group (kernel, mode, and with
// order.repetitions_across_boots also the repetition, so each repetition
// gets its own boot). A pair boots each group it runs exactly once. A group
// longer than a pair's fair share is split across pairs (longest-
// processing-time first), which costs one more boot per extra pair but
// shortens the makespan; a local search then moves tails of boot groups off
// the busiest pair while that shortens the plan (this is what keeps pairs
// busy when there are fewer boot configs than pairs). Within a boot, runs are grouped by VM config
// so guests are relaunched as rarely as possible (a guest stays up for the next run of its VM
// config), and shuffled reproducibly (order.seed) when order.randomize is set. `current` needs
// no boot.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "spec/spec.h"

namespace iommuvm::planner {

// How a pair reaches one host mode, and what that costs.
struct SwitchKind {
  std::string method;  // sysfs | kexec | grub
  absl::Duration cost;
};

struct PlanOptions {
  uint32_t pairs = 1;
  absl::Duration switch_cost = absl::Seconds(40);  // a mode switch not in switch_kinds
  // Per-mode method and cost (sysfs cannot reach `off`: its fallback does).
  std::map<v1::IommuMode, SwitchKind> switch_kinds;
  // A new boot of the mode the pair already runs (the next repetition with
  // order.repetitions_across_boots): never in place.
  std::optional<SwitchKind> reboot_kind;
  absl::Duration vm_launch_cost = absl::Seconds(30);
  spec::OrderSpec order;
  // Estimated time of one run (generator duration, warmup, setup).
  std::function<absl::Duration(const spec::RunPoint&)> run_time;
};

struct Boot {
  v1::IommuMode mode = v1::IOMMU_MODE_CURRENT;
  uint32_t instance = 0;       // repetition with repetitions_across_boots, else 0
  std::vector<uint32_t> runs;  // run indices, in execution order
  std::string kernel;          // matrix.kernel's value ("" without a kernel axis)
};

struct PairPlan {
  // By kernel, `off` last in each: from off, sysfs cannot switch back.
  std::vector<Boot> boots;
  uint32_t switches = 0;    // boots needing a mode switch (not `current`)
  std::map<std::string, uint32_t> switches_by_method;
  uint32_t vm_launches = 0;
  absl::Duration run_time;  // sum of run estimates
  absl::Duration makespan;  // run time + switches + VM launches
};

struct Plan {
  std::vector<PairPlan> pairs;
  uint32_t boot_groups = 0;  // distinct boot configs: the fewest switches possible
  uint32_t switches = 0;
  std::map<std::string, uint32_t> switches_by_method;
  absl::Duration makespan;
  // (total run time + one switch per boot group) / pairs, or the longest
  // single run if that is longer: no plan can finish sooner.
  absl::Duration lower_bound;
};

Plan MakePlan(const std::vector<spec::RunPoint>& runs, const PlanOptions& options);

// The method and cost of switching to `mode` (zero for `current`); with
// a `kernel` (the kernel axis) always a method that reboots.
SwitchKind SwitchTo(const PlanOptions& options, v1::IommuMode mode, const std::string& kernel = "");

// Run-time estimate from a spec: setup + warmup + the generator's duration,
// or for request-bounded tools requests / an assumed 50k ops/s per test.
// Good enough to balance pairs.
std::function<absl::Duration(const spec::RunPoint&)> EstimateFromSpec(
    const spec::ExperimentSpec& spec);

// Typical cost of one host mode switch by method: sysfs 5 s, kexec 40 s,
// grub 300 s (a full firmware POST on r650).
std::map<std::string, absl::Duration> DefaultSwitchCosts();
// Options for planning `spec` on `pairs` pairs: its switch method's cost,
// its order policy and EstimateFromSpec (which keeps a reference to `spec`).
PlanOptions OptionsForSpec(const spec::ExperimentSpec& spec, uint32_t pairs,
                           const std::map<std::string, absl::Duration>& costs);

}  // namespace iommuvm::planner
