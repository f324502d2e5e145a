#include "planner/planner.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <tuple>

#include "spec/kernel_axis.h"
#include "spec/params.h"

namespace iommuvm::planner {
namespace {

// A boot config: the kernel ("" without a kernel axis), the mode, and the
// repetition with repetitions_across_boots (else 0). Ordered by kernel
// first, so a pair's boots of one kernel are adjacent.
struct GroupKey {
  std::string kernel;
  int mode = 0;
  uint32_t instance = 0;
  auto operator<=>(const GroupKey&) const = default;
};

// The cost of booting a group: its mode's switch, and a reboot whatever
// the method when it names a kernel (another kernel is never reached in
// place).
SwitchKind GroupSwitch(const PlanOptions& options, const GroupKey& g) {
  return SwitchTo(options, static_cast<v1::IommuMode>(g.mode), g.kernel);
}

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

using Assignment = std::vector<std::map<GroupKey, std::vector<uint32_t>>>;  // per pair

// Local search after the greedy assignment: repeatedly takes the most
// loaded pair and moves the tail of one of its boot groups to the pair
// where that lowers the larger of the two loads most (paying a switch when
// the receiver does not boot that group yet, saving one when the whole
// group leaves). Every accepted move lowers the critical pair's load
// strictly, so the sorted load vector falls and the loop ends. This is
// what fixes "fewer boot groups than pairs", where greedy placement leaves
// pairs idle.
void Refine(const std::vector<absl::Duration>& time, const PlanOptions& options,
            std::vector<absl::Duration>* load, Assignment* assigned) {
  const size_t pairs = load->size();
  if (pairs < 2) return;
  for (size_t iteration = 0; iteration < 8 * pairs + 64; ++iteration) {
    size_t p = std::max_element(load->begin(), load->end()) - load->begin();
    absl::Duration best = (*load)[p];
    GroupKey best_group;
    size_t best_q = 0, best_k = 0;
    for (const auto& [group, ids] : (*assigned)[p]) {
      absl::Duration sw = GroupSwitch(options, group).cost;
      absl::Duration whole;
      for (uint32_t r : ids) whole += time[r];
      for (size_t q = 0; q < pairs; ++q) {
        if (q == p) continue;
        absl::Duration base_q =
            (*load)[q] + ((*assigned)[q].count(group) ? absl::ZeroDuration() : sw);
        // Whole group: the sender also saves its switch.
        absl::Duration whole_max = std::max((*load)[p] - whole - sw, base_q + whole);
        if (whole_max < best) {
          best = whole_max;
          best_group = group;
          best_q = q;
          best_k = ids.size();
        }
        // A tail of k runs: scan until the receiver would pass the sender.
        absl::Duration tail;
        for (size_t k = 1; k < ids.size(); ++k) {
          tail += time[ids[ids.size() - k]];
          absl::Duration p_new = (*load)[p] - tail, q_new = base_q + tail;
          if (std::max(p_new, q_new) < best) {
            best = std::max(p_new, q_new);
            best_group = group;
            best_q = q;
            best_k = k;
          }
          if (q_new >= p_new) break;
        }
      }
    }
    if (best_k == 0) return;
    auto& from = (*assigned)[p][best_group];
    auto& to = (*assigned)[best_q][best_group];
    absl::Duration sw = GroupSwitch(options, best_group).cost;
    absl::Duration moved;
    bool receiver_had = to.size() > 0;
    for (size_t i = from.size() - best_k; i < from.size(); ++i) moved += time[from[i]];
    to.insert(to.end(), from.end() - static_cast<ptrdiff_t>(best_k), from.end());
    from.resize(from.size() - best_k);
    (*load)[p] -= moved + (from.empty() ? sw : absl::ZeroDuration());
    (*load)[best_q] += moved + (receiver_had ? absl::ZeroDuration() : sw);
    if (from.empty()) (*assigned)[p].erase(best_group);
  }
}

// Second local search, after Refine: moves one run, or swaps two, between
// the most loaded pair and another, when that lowers the larger of the two
// loads; when no such step exists, a chain of two moves (the critical
// pair's run to a second pair, one of that pair's runs to a third) that
// brings all three below the critical load. Runs of one boot group with
// equal times are interchangeable, so one run per (group, time) class is
// tried: the work per pass grows with the classes (groups x distinct run
// times), not with the runs. Fixes what tail moves cannot: a long run
// stuck behind short ones, pairs holding each other's better fit
// (measured against the exact optimum in planner_test).
class RunMoves {
 public:
  RunMoves(const std::vector<absl::Duration>& time, const PlanOptions& options,
           std::vector<absl::Duration>* load, Assignment* assigned)
      : time_(time), options_(options), load_(*load), assigned_(*assigned) {}

  // Stops within 1% of `lower_bound` (no plan can beat it) or when the
  // work budget is spent.
  void Run(absl::Duration lower_bound) {
    const size_t pairs = load_.size();
    if (pairs < 2) return;
    for (size_t iteration = 0; iteration < 16 * pairs + 256; ++iteration) {
      size_t p = std::max_element(load_.begin(), load_.end()) - load_.begin();
      absl::Duration critical = load_[p];
      if (critical <= lower_bound * 1.01 || evaluations_ > kBudget) return;
      if (auto m = BestFrom(p, critical, pairs)) {
        Apply(*m);
        continue;
      }
      if (!Chain(p, critical)) return;
    }
  }

 private:
  struct Move {
    size_t from = 0, to = 0;
    GroupKey g1;
    uint32_t r1 = 0;
    std::optional<std::pair<GroupKey, uint32_t>> back;  // swap: q's run to p
  };

  absl::Duration Switch(const GroupKey& g) const { return GroupSwitch(options_, g).cost; }
  // One run per (group, run time) on `pair`.
  std::vector<std::pair<GroupKey, uint32_t>> Classes(size_t pair) const {
    std::vector<std::pair<GroupKey, uint32_t>> out;
    for (const auto& [group, ids] : assigned_[pair]) {
      std::set<absl::Duration> seen;
      for (uint32_t r : ids) {
        if (seen.insert(time_[r]).second) out.emplace_back(group, r);
      }
      evaluations_ += ids.size();
    }
    return out;
  }
  size_t Count(size_t pair, const GroupKey& g) const {
    auto it = assigned_[pair].find(g);
    return it == assigned_[pair].end() ? 0 : it->second.size();
  }
  // The best move or swap from `p` to a pair other than `p` and `avoid`
  // whose larger load ends below `below`.
  std::optional<Move> BestFrom(size_t p, absl::Duration below, size_t avoid) const {
    std::optional<Move> best;
    const auto from_p = Classes(p);
    for (size_t q = 0; q < load_.size(); ++q) {
      if (q == p || q == avoid) continue;
      auto from_q = Classes(q);
      for (const auto& [g1, r1] : from_p) {
        absl::Duration t1 = time_[r1];
        bool g1_last = Count(p, g1) == 1, q_has_g1 = Count(q, g1) > 0;
        ++evaluations_;
        absl::Duration p_new = load_[p] - t1 - (g1_last ? Switch(g1) : absl::ZeroDuration());
        absl::Duration q_new = load_[q] + t1 + (q_has_g1 ? absl::ZeroDuration() : Switch(g1));
        if (std::max(p_new, q_new) < below) {
          below = std::max(p_new, q_new);
          best = Move{p, q, g1, r1, std::nullopt};
        }
        for (const auto& [g2, r2] : from_q) {
          absl::Duration t2 = time_[r2];
          absl::Duration ps = load_[p] - t1 + t2, qs = load_[q] - t2 + t1;
          if (g1 != g2) {
            if (g1_last) ps -= Switch(g1);
            if (Count(p, g2) == 0) ps += Switch(g2);
            if (Count(q, g2) == 1) qs -= Switch(g2);
            if (!q_has_g1) qs += Switch(g1);
          }
          if (std::max(ps, qs) < below) {
            below = std::max(ps, qs);
            best = Move{p, q, g1, r1, std::make_pair(g2, r2)};
          }
        }
      }
    }
    return best;
  }
  void Take(size_t pair, const GroupKey& g, uint32_t r) {
    auto& ids = assigned_[pair][g];
    ids.erase(std::find(ids.begin(), ids.end(), r));
    if (ids.empty()) assigned_[pair].erase(g);
  }
  void Recount(size_t pair) {
    absl::Duration l;
    for (const auto& [group, ids] : assigned_[pair]) {
      l += Switch(group);
      for (uint32_t r : ids) l += time_[r];
    }
    load_[pair] = l;
  }
  void Apply(const Move& m) {
    Take(m.from, m.g1, m.r1);
    if (m.back) Take(m.to, m.back->first, m.back->second);
    assigned_[m.to][m.g1].push_back(m.r1);
    if (m.back) assigned_[m.from][m.back->first].push_back(m.back->second);
    Recount(m.from);
    Recount(m.to);
  }
  void Undo(const Move& m) {
    Move inverse{m.to, m.from, m.g1, m.r1, std::nullopt};
    Apply(inverse);
  }
  // Two moves that together bring every pair they touch below
  // `critical`: p's run to q (q may pass it) then q's best step to a third
  // pair; or first a run between two other pairs that makes room, then
  // p's best step. Bounded by an evaluation budget: on large experiments
  // the tail moves already reach the bound, and this search would be slow.
  bool Chain(size_t p, absl::Duration critical) {
    for (size_t x = 0; x < load_.size(); ++x) {
      for (size_t y = 0; y < load_.size(); ++y) {
        if (x == y || y == p) continue;
        for (const auto& [g1, r1] : Classes(x)) {
          if (evaluations_ > kBudget) return false;
          Move first{x, y, g1, r1, std::nullopt};
          Apply(first);
          std::optional<Move> second;
          if (x == p && load_[p] < critical) {
            second = BestFrom(y, critical, p);
          } else if (x != p && load_[y] < critical) {
            second = BestFrom(p, critical, load_.size());
          }
          if (second) {
            Apply(*second);
            return true;
          }
          Undo(first);
        }
      }
    }
    return false;
  }

  // Work per plan (move evaluations and runs scanned): about 10 ms.
  static constexpr uint64_t kBudget = 1'000'000;
  mutable uint64_t evaluations_ = 0;

  const std::vector<absl::Duration>& time_;
  const PlanOptions& options_;
  std::vector<absl::Duration>& load_;
  Assignment& assigned_;
};

// Splits each boot group into pieces (more pieces with a higher
// granularity), assigns them longest first to the least-loaded pair (a pair
// that already runs the group pays no switch), and merges each pair's pieces
// of a group into one boot.
void Assign(const std::vector<std::pair<GroupKey, std::vector<uint32_t>>>& ordered,
            const std::vector<spec::RunPoint>& runs, const std::vector<absl::Duration>& time,
            const std::vector<uint32_t>& position, const PlanOptions& options, uint32_t pairs,
            int granularity, Plan* plan) {
  // Split groups longer than a fair share, then longest chunk first onto the
  // least-loaded pair (a pair that already has the group pays no switch).
  absl::Duration fair = plan->lower_bound / granularity;
  std::vector<Chunk> chunks;
  for (const auto& [key, ids] : ordered) {
    absl::Duration t;
    for (uint32_t r : ids) t += time[r];
    size_t n = fair > absl::ZeroDuration()
                   ? std::clamp<size_t>(static_cast<size_t>(std::ceil(absl::FDivDuration(t, fair))),
                                        1, pairs)
                   : 1;
    for (auto& c : SplitGroup(key, ids, time, n)) chunks.push_back(std::move(c));
  }
  std::stable_sort(chunks.begin(), chunks.end(),
                   [](const Chunk& a, const Chunk& b) { return a.time > b.time; });
  std::vector<absl::Duration> load(pairs);
  Assignment assigned(pairs);
  for (Chunk& c : chunks) {
    size_t best = 0;
    absl::Duration best_load = absl::InfiniteDuration();
    for (size_t p = 0; p < pairs; ++p) {
      absl::Duration sw =
          assigned[p].count(c.group) ? absl::ZeroDuration() : GroupSwitch(options, c.group).cost;
      absl::Duration l = load[p] + c.time + sw;
      if (l < best_load) {
        best_load = l;
        best = p;
      }
    }
    load[best] = best_load;
    auto& dest = assigned[best][c.group];
    dest.insert(dest.end(), c.runs.begin(), c.runs.end());
  }
  Refine(time, options, &load, &assigned);
  RunMoves(time, options, &load, &assigned).Run(plan->lower_bound);

  // One boot per group on each pair, in group order; count costs.
  for (size_t p = 0; p < pairs; ++p) {
    PairPlan& pp = plan->pairs[p];
    std::optional<std::pair<std::string, v1::IommuMode>> previous;
    for (auto& [key, ids] : assigned[p]) {
      // Moved runs were appended; restore the group's VM/shuffle order.
      std::sort(ids.begin(), ids.end(),
                [&](uint32_t a, uint32_t b) { return position[a] < position[b]; });
      Boot boot{static_cast<v1::IommuMode>(key.mode), key.instance, std::move(ids), key.kernel};
      if (boot.mode != v1::IOMMU_MODE_CURRENT || !boot.kernel.empty()) {
        SwitchKind kind = GroupSwitch(options, key);
        if (previous == std::make_pair(boot.kernel, boot.mode) && kind.method == "sysfs" &&
            options.reboot_kind) {
          kind = *options.reboot_kind;
        }
        previous = std::make_pair(boot.kernel, boot.mode);
        ++pp.switches;
        ++pp.switches_by_method[kind.method];
        ++plan->switches_by_method[kind.method];
        pp.makespan += kind.cost;
      }
      // A guest stays up for the next run of its VM config (the agent
      // reuses it), so a launch is a change of VM config.
      std::string last_vm = "bare-metal";
      for (uint32_t r : boot.runs) {
        pp.run_time += time[r];
        if (runs[r].vm != "bare-metal" && runs[r].vm != last_vm) ++pp.vm_launches;
        last_vm = runs[r].vm;
      }
      pp.boots.push_back(std::move(boot));
    }
    // `off` last: a node booted with the IOMMU off has no groups for sysfs
    // to retype, so leaving off needs a reboot; entering it last never does.
    // Per kernel, so the boots of one kernel stay adjacent.
    std::stable_sort(pp.boots.begin(), pp.boots.end(), [](const Boot& a, const Boot& b) {
      return std::make_pair(a.kernel, a.mode == v1::IOMMU_MODE_OFF) <
             std::make_pair(b.kernel, b.mode == v1::IOMMU_MODE_OFF);
    });
    pp.makespan += pp.run_time + options.vm_launch_cost * pp.vm_launches;
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
    GroupKey key{spec::KernelOf(r), r.iommu,
                 options.order.repetitions_across_boots ? r.repetition : 0};
    groups[key][r.vm].push_back(r.index);
  }
  std::vector<std::pair<GroupKey, std::vector<uint32_t>>> ordered;
  absl::Duration unavoidable_switches;  // each boot config once
  for (auto& [key, by_vm] : groups) {
    std::vector<uint32_t> order;
    for (auto& [vm, ids] : by_vm) {
      if (options.order.randomize) {
        // The kernel joins the seed only when there is one, so a spec
        // without a kernel axis keeps its order.
        std::vector<uint64_t> seeds = {static_cast<uint64_t>(options.order.seed),
                                       static_cast<uint64_t>(key.mode), key.instance,
                                       static_cast<uint64_t>(std::hash<std::string>{}(vm))};
        if (!key.kernel.empty()) seeds.push_back(std::hash<std::string>{}(key.kernel));
        std::seed_seq seq(seeds.begin(), seeds.end());
        std::mt19937_64 rng(seq);
        std::shuffle(ids.begin(), ids.end(), rng);
      }
      order.insert(order.end(), ids.begin(), ids.end());
    }
    ordered.emplace_back(key, std::move(order));
    if (key.mode != v1::IOMMU_MODE_CURRENT || !key.kernel.empty()) ++plan.boot_groups;
    unavoidable_switches += GroupSwitch(options, key).cost;
  }
  std::vector<uint32_t> position(runs.size());  // index in its group's order
  for (const auto& [key, ids] : ordered) {
    for (size_t i = 0; i < ids.size(); ++i) position[ids[i]] = static_cast<uint32_t>(i);
  }
  plan.lower_bound = std::max(longest, (total + unavoidable_switches) / pairs);

  // Try a few split granularities (1: split only groups longer than a fair
  // share; higher: finer pieces, more boots) and keep the shortest plan.
  Plan best;
  for (int granularity = 1; granularity <= 4; ++granularity) {
    Plan candidate = plan;
    Assign(ordered, runs, time, position, options, pairs, granularity, &candidate);
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

SwitchKind SwitchTo(const PlanOptions& options, v1::IommuMode mode, const std::string& kernel) {
  if (!kernel.empty()) {
    SwitchKind kind =
        SwitchTo(options, mode == v1::IOMMU_MODE_CURRENT ? v1::IOMMU_MODE_STRICT : mode);
    if ((kind.method == "sysfs" || mode == v1::IOMMU_MODE_CURRENT) && options.reboot_kind) {
      kind = *options.reboot_kind;
    }
    return kind;
  }
  if (mode == v1::IOMMU_MODE_CURRENT) return {"none", absl::ZeroDuration()};
  auto it = options.switch_kinds.find(mode);
  if (it != options.switch_kinds.end()) return it->second;
  return {"switch", options.switch_cost};
}

std::map<std::string, absl::Duration> DefaultSwitchCosts() {
  return {{"sysfs", absl::Seconds(5)}, {"kexec", absl::Seconds(40)}, {"grub", absl::Seconds(300)}};
}

PlanOptions OptionsForSpec(const spec::ExperimentSpec& spec, uint32_t pairs,
                           const std::map<std::string, absl::Duration>& costs) {
  PlanOptions options;
  options.pairs = pairs;
  auto cost = costs.find(spec.switch_method.method);
  if (cost != costs.end()) options.switch_cost = cost->second;
  for (v1::IommuMode mode : {v1::IOMMU_MODE_OFF, v1::IOMMU_MODE_PASSTHROUGH, v1::IOMMU_MODE_LAZY,
                             v1::IOMMU_MODE_STRICT}) {
    std::string method = spec.switch_method.method;
    // sysfs retypes IOMMU groups; turning the IOMMU off needs a reboot.
    if (method == "sysfs" && mode == v1::IOMMU_MODE_OFF && !spec.switch_method.fallback.empty()) {
      method = spec.switch_method.fallback.front();
    }
    auto c = costs.find(method);
    options.switch_kinds[mode] = {method, c != costs.end() ? c->second : options.switch_cost};
  }
  // The first method that reboots, for a new boot of the same mode.
  std::vector<std::string> methods = {spec.switch_method.method};
  methods.insert(methods.end(), spec.switch_method.fallback.begin(),
                 spec.switch_method.fallback.end());
  for (const std::string& m : methods) {
    if (m == "sysfs") continue;
    auto c = costs.find(m);
    options.reboot_kind = SwitchKind{m, c != costs.end() ? c->second : options.switch_cost};
    break;
  }
  options.order = spec.order;
  options.run_time = EstimateFromSpec(spec);
  return options;
}

}  // namespace iommuvm::planner
