// `iommuvm plan`: how a spec would run on N pairs, before anything reboots.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/command_support.h"
#include "common/units.h"
#include "iommu/mode_names.h"
#include "planner/planner.h"
#include "spec/matrix.h"

namespace iommuvm::cli {
namespace {

constexpr char kPlanUsage[] =
    "usage: iommuvm plan FILE [--pairs N] [--switch-cost sysfs=5s,kexec=40s,grub=300s]\n"
    "                    [--format table|csv|json]\n"
    "Expands the matrix and shows, per pair, the boots and runs in order, mode switches,\n"
    "VM launches and estimated makespan, against the lower bound for N pairs.\n";

// "sysfs=5s,kexec=40s" over the defaults; false after printing the error.
bool ParseSwitchCosts(Context& ctx, const std::string& text,
                      std::map<std::string, absl::Duration>* costs) {
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    auto d = ParseDuration(kv.second);
    if (!costs->count(kv.first) || !d.ok()) {
      ctx.err << "iommuvm: --switch-cost: '" << item
              << "' is not METHOD=DURATION with METHOD sysfs, kexec or grub\n";
      return false;
    }
    (*costs)[kv.first] = *d;
  }
  return true;
}

// " (4 sysfs, 2 kexec)", or "" with one method or none.
std::string ByMethod(const std::map<std::string, uint32_t>& by_method) {
  if (by_method.size() < 2) return "";
  std::vector<std::string> parts;
  for (const auto& [method, n] : by_method) parts.push_back(absl::StrCat(n, " ", method));
  return absl::StrCat(" (", absl::StrJoin(parts, ", "), ")");
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

std::string JsonCounts(const std::map<std::string, uint32_t>& counts) {
  std::vector<std::string> parts;
  for (const auto& [k, n] : counts) parts.push_back(absl::StrCat(JsonEscape(k), ": ", n));
  return absl::StrCat("{", absl::StrJoin(parts, ", "), "}");
}

// The whole plan as one JSON object: pairs with their boots (every run
// index, in order), switches by method, and the overall bound.
// `max_runs`: with adaptive repetitions, the most runs the experiment can
// grow to (else `runs`).
void PrintJson(std::ostream& out, size_t runs, size_t max_runs, const planner::Plan& plan) {
  out << "{\n  \"runs\": " << runs << ",\n  \"max_runs\": " << max_runs
      << ",\n  \"boot_configs\": " << plan.boot_groups << ",\n  \"switches\": " << plan.switches
      << ",\n  \"switches_by_method\": " << JsonCounts(plan.switches_by_method)
      << ",\n  \"makespan_s\": " << Fixed(Seconds(plan.makespan), 1)
      << ",\n  \"lower_bound_s\": " << Fixed(Seconds(plan.lower_bound), 1) << ",\n  \"pairs\": [";
  for (size_t p = 0; p < plan.pairs.size(); ++p) {
    const planner::PairPlan& pp = plan.pairs[p];
    out << (p ? "," : "") << "\n    {\"pair\": " << p + 1 << ", \"switches\": " << pp.switches
        << ", \"switches_by_method\": " << JsonCounts(pp.switches_by_method)
        << ", \"vm_launches\": " << pp.vm_launches
        << ", \"run_time_s\": " << Fixed(Seconds(pp.run_time), 1)
        << ", \"makespan_s\": " << Fixed(Seconds(pp.makespan), 1) << ", \"boots\": [";
    for (size_t b = 0; b < pp.boots.size(); ++b) {
      const planner::Boot& boot = pp.boots[b];
      out << (b ? ", " : "") << "{\"iommu\": \"" << iommu::IommuModeName(boot.mode) << "\", "
          << (boot.kernel.empty() ? "" : "\"kernel\": \"" + boot.kernel + "\", ")
          << "\"instance\": " << boot.instance << ", \"runs\": [" << absl::StrJoin(boot.runs, ", ")
          << "]}";
    }
    out << "]}";
  }
  out << "\n  ]\n}\n";
}

}  // namespace

int Plan(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto args = ParseCommand(ctx, argv, kPlanUsage, {"pairs", "switch-cost"}, {}, 1, 1, &code);
  if (!args) return code;
  auto format = FormatOf(ctx, *args);
  uint32_t pairs = 0;
  if (!format || !absl::SimpleAtoi(args->Get("pairs", "1"), &pairs) || pairs == 0) {
    if (format) ctx.err << "iommuvm: --pairs must be a positive number\n";
    return kExitUsage;
  }
  std::map<std::string, absl::Duration> costs = planner::DefaultSwitchCosts();
  if (!ParseSwitchCosts(ctx, args->Get("switch-cost", ""), &costs)) return kExitUsage;

  auto loaded = LoadSpec(ctx, args->positional[0], "");
  if (!loaded) return kExitFailure;
  const spec::ExperimentSpec& s = loaded->spec;

  planner::PlanOptions options = planner::OptionsForSpec(s, pairs, costs);
  auto runs = spec::ExpandMatrix(s);
  planner::Plan plan = planner::MakePlan(runs, options);

  if (*format == Format::kJson) {
    PrintJson(ctx.out, runs.size(),
              s.adaptive() ? runs.size() / s.repetitions * s.max_repetitions : runs.size(), plan);
    return kExitOk;
  }
  // A kernel column only with a kernel axis.
  bool kernels = !s.matrix.kernel.empty();
  std::vector<Column> columns = {{"pair", true}, {"boot", true}, {"iommu"}};
  if (kernels) columns.push_back({"kernel"});
  for (Column c :
       std::vector<Column>{{"instance", true}, {"switch"}, {"runs", true}, {"first_runs"}}) {
    columns.push_back(c);
  }
  Table t(columns);
  Table summary({{"pair", true}, {"boots", true}, {"switches"}, {"vm_launches", true},
                 {"run_time"}, {"makespan"}});
  for (size_t p = 0; p < plan.pairs.size(); ++p) {
    const auto& pp = plan.pairs[p];
    for (size_t b = 0; b < pp.boots.size(); ++b) {
      const auto& boot = pp.boots[b];
      std::string first;
      for (size_t i = 0; i < boot.runs.size() && i < 6; ++i) {
        absl::StrAppend(&first, i ? " " : "", boot.runs[i]);
      }
      if (boot.runs.size() > 6) absl::StrAppend(&first, " ...");
      std::vector<std::string> row = {absl::StrCat(p + 1), absl::StrCat(b + 1),
                                      iommu::IommuModeName(boot.mode)};
      if (kernels) row.push_back(boot.kernel);
      for (std::string cell :
           {absl::StrCat(boot.instance), planner::SwitchTo(options, boot.mode, boot.kernel).method,
            absl::StrCat(boot.runs.size()), first}) {
        row.push_back(std::move(cell));
      }
      t.AddRow(row);
    }
    summary.AddRow({absl::StrCat(p + 1), absl::StrCat(pp.boots.size()),
                    absl::StrCat(pp.switches, ByMethod(pp.switches_by_method)),
                    absl::StrCat(pp.vm_launches),
                    SpecDuration(absl::Trunc(pp.run_time, absl::Seconds(1))),
                    SpecDuration(absl::Trunc(pp.makespan, absl::Seconds(1)))});
  }
  t.Print(ctx.out, *format);
  if (*format == Format::kCsv) return kExitOk;
  ctx.out << "\n";
  summary.Print(ctx.out, *format);
  // "kexec, 40s each" or "1 grub at 5m, 6 sysfs at 5s".
  std::vector<std::string> costs_used;
  for (const auto& [method, n] : plan.switches_by_method) {
    std::string cost = SpecDuration(costs.count(method) ? costs.at(method) : options.switch_cost);
    costs_used.push_back(plan.switches_by_method.size() == 1
                             ? absl::StrCat(method, ", ", cost, " each")
                             : absl::StrCat(n, " ", method, " at ", cost));
  }
  double above = absl::FDivDuration(plan.makespan, plan.lower_bound) - 1.0;
  ctx.out << "\n"
          << runs.size() << " runs on " << pairs << " pairs, " << plan.switches
          << " mode switches (" << absl::StrJoin(costs_used, ", ") << "; " << plan.boot_groups
          << " boot configs), makespan " << FormatClockTime(plan.makespan) << ", lower bound "
          << FormatClockTime(plan.lower_bound) << " (" << Fixed(above * 100, 1) << "% above)\n";
  if (s.adaptive()) {
    // The plan is of the first round; the bounds say how far it can grow.
    size_t points = runs.size() / s.repetitions;
    ctx.out << "repetitions: " << s.repetitions << " to " << s.max_repetitions
            << " per point, added until the 95% CI is within ±" << s.until_ci_below_pct
            << "% of the mean: " << runs.size() << " to " << points * s.max_repetitions
            << " runs\n";
  }
  return kExitOk;
}

}  // namespace iommuvm::cli
