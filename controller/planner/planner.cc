#include "controller/planner/planner.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <tuple>

#include "controller/spec/params.h"

namespace iommuvm::planner {
namespace {

using GroupKey = std::pair<int, uint32_t>;  // (mode, instance)

struct Chunk {
  GroupKey group;
  std::vector<uint32_t> runs;
  absl::Duration time;
};

// Splits `runs` (already ordered) into `n` contiguous chunks of similar
// time: a chunk ends once the running total passes its share boundary.
std::vector<Chunk> SplitGroup(const GroupKey& key, const std::vector<uint32_t>& runs,
                              const std::vector<absl::Duration>& time, size_t n) {
  absl::Duration total;
  for (uint32_t r : runs) total += time[r];
  std::vector<Chunk> chunks(1, Chunk{key, {}, absl::ZeroDuration()});
  absl::Duration done;
  for (uint32_t r : runs) {
    absl::Duration boundary = total * static_cast<int64_t>(chunks.size()) / static_cast<int64_t>(n);
    if (chunks.size() < n && !chunks.back().runs.empty() && done + time[r] / 2 > boundary) {
      chunks.push_back(Chunk{key, {}, absl::ZeroDuration()});
    }
    chunks.back().runs.push_back(r);
    chunks.back().time += time[r];
    done += time[r];
  }
  return chunks;
}

// Splits each boot group into pieces (more pieces with a higher
// granularity), assigns them longest first to the least-loaded pair (a pair
// that already runs the group pays no switch), and merges each pair's pieces
// of a group into one boot.
void Assign(const std::vector<std::pair<GroupKey, std::vector<uint32_t>>>& ordered,
            const std::vector<spec::RunPoint>& runs, const std::vector<absl::Duration>& time,
            const PlanOptions& options, uint32_t pairs, int granularity, Plan* plan) {
  // Split groups longer than a fair share, then longest chunk first onto the
  // least-loaded pair (a pair that already has the group pays no switch).
  absl::Duration fair = plan->lower_bound / granularity;
  std::vector<Chunk> chunks;
  for (const auto& [key, ids] : ordered) {
    absl::Duration t;
    for (uint32_t r : ids) t += time[r];
    size_t n = fair > absl::ZeroDuration()
                   ? std::clamp<size_t>(static_cast<size_t>(std::ceil(absl::FDivDuration(t, fair))), 1,
                                      pairs)
                   : 1;
    for (auto& c : SplitGroup(key, ids, time, n)) chunks.push_back(std::move(c));
  }
  std::stable_sort(chunks.begin(), chunks.end(),
                   [](const Chunk& a, const Chunk& b) { return a.time > b.time; });
  std::vector<absl::Duration> load(pairs);
  std::vector<std::map<GroupKey, std::vector<uint32_t>>> assigned(pairs);
  for (Chunk& c : chunks) {
    size_t best = 0;
    absl::Duration best_load = absl::InfiniteDuration();
    for (size_t p = 0; p < pairs; ++p) {
      bool needs_switch = !assigned[p].count(c.group) && c.group.first != v1::IOMMU_MODE_CURRENT;
      absl::Duration l = load[p] + c.time + (needs_switch ? options.switch_cost : absl::ZeroDuration());
      if (l < best_load) {
        best_load = l;
        best = p;
      }
    }
    load[best] = best_load;
    auto& dest = assigned[best][c.group];
    dest.insert(dest.end(), c.runs.begin(), c.runs.end());
  }

  // One boot per group on each pair, in group order; count costs.
  for (size_t p = 0; p < pairs; ++p) {
    PairPlan& pp = plan->pairs[p];
    for (auto& [key, ids] : assigned[p]) {
      Boot boot{static_cast<v1::IommuMode>(key.first), key.second, std::move(ids)};
      if (boot.mode != v1::IOMMU_MODE_CURRENT) ++pp.switches;
      std::string last_vm = "bare-metal";
      for (uint32_t r : boot.runs) {
        pp.run_time += time[r];
        if (runs[r].vm != "bare-metal" && runs[r].vm != last_vm) ++pp.vm_launches;
        last_vm = runs[r].vm;
      }
      pp.boots.push_back(std::move(boot));
    }
    pp.makespan = pp.run_time + options.switch_cost * pp.switches +
                  options.vm_launch_cost * pp.vm_launches;
    plan->switches += pp.switches;
    plan->makespan = std::max(plan->makespan, pp.makespan);
  }
}

}  // namespace

Plan MakePlan(const std::vector<spec::RunPoint>& runs, const PlanOptions& options) {
  Plan plan;
  const uint32_t pairs = std::max<uint32_t>(1, options.pairs);
  plan.pairs.resize(pairs);
  std::vector<absl::Duration> time(runs.size());
  absl::Duration total, longest;
  for (const auto& r : runs) {
    time[r.index] = options.run_time ? options.run_time(r) : absl::Seconds(1);
    total += time[r.index];
    longest = std::max(longest, time[r.index]);
  }

  // Boot groups, each ordered by VM config then (optionally shuffled) runs.
  std::map<GroupKey, std::map<std::string, std::vector<uint32_t>>> groups;
  for (const auto& r : runs) {
    GroupKey key{r.iommu, options.order.repetitions_across_boots ? r.repetition : 0};
    groups[key][r.vm].push_back(r.index);
  }
  std::vector<std::pair<GroupKey, std::vector<uint32_t>>> ordered;
  for (auto& [key, by_vm] : groups) {
    std::vector<uint32_t> order;
    for (auto& [vm, ids] : by_vm) {
      if (options.order.randomize) {
        std::seed_seq seq{static_cast<uint64_t>(options.order.seed), static_cast<uint64_t>(key.first),
                          static_cast<uint64_t>(key.second), static_cast<uint64_t>(std::hash<std::string>{}(vm))};
        std::mt19937_64 rng(seq);
        std::shuffle(ids.begin(), ids.end(), rng);
      }
      order.insert(order.end(), ids.begin(), ids.end());
    }
    ordered.emplace_back(key, std::move(order));
    if (key.first != v1::IOMMU_MODE_CURRENT) ++plan.boot_groups;
  }
  plan.lower_bound =
      std::max(longest, (total + options.switch_cost * plan.boot_groups) / pairs);

  // Try a few split granularities (1: split only groups longer than a fair
  // share; higher: finer pieces, more boots) and keep the shortest plan.
  Plan best;
  for (int granularity = 1; granularity <= 4; ++granularity) {
    Plan candidate = plan;
    Assign(ordered, runs, time, options, pairs, granularity, &candidate);
    if (granularity == 1 || candidate.makespan < best.makespan) best = std::move(candidate);
    if (pairs == 1) break;
  }
  return best;
}

std::function<absl::Duration(const spec::RunPoint&)> EstimateFromSpec(
    const spec::ExperimentSpec& spec) {
  return [&spec](const spec::RunPoint& r) {
    spec::WorkloadSpec w = spec::ApplyParams(spec.workloads.at(r.workload), r.params);
    absl::Duration measured = w.generator.duration;
    if (w.generator.requests > 0) {  // bounded by a count: assume 50k ops/s per test
      double tests = w.generator.tool == "redis-benchmark"
                         ? static_cast<double>(w.generator.tests.size())
                         : 1.0;
      measured = absl::Seconds(static_cast<double>(w.generator.requests) * tests / 50000.0);
    }
    return absl::Seconds(2) + w.generator.warmup + measured;
  };
}

}  // namespace iommuvm::planner
