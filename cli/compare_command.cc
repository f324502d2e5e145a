// `iommuvm compare`: what each IOMMU mode costs against a baseline mode,
// per workload, VM, parameters and operation, with confidence intervals
// over the repetitions (results/comparison.h).
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/command_support.h"
#include "results/comparison.h"

namespace iommuvm::cli {
namespace {

constexpr char kCompareUsage[] =
    "usage: iommuvm compare EXP [--metric throughput|gbps|p50|p90|p99|p999|cpu]\n"
    "                           [--baseline MODE] [--explain]\n"
    "                           [--confidence 0.95] [--format table|csv|json]\n"
    "                           [--controller ADDR]\n"
    "Per workload, VM, parameters and operation: each IOMMU mode's mean over the\n"
    "repetitions with its confidence interval, and the change against the baseline\n"
    "mode (default: the first of off, passthrough, lazy, strict present) with its\n"
    "interval; '*' marks a change whose interval excludes 0. Only succeeded runs\n"
    "count; runs in mode `current` count under the mode the node was verified to run.\n"
    "Metrics: throughput (ops/s), gbps (Gbit/s of payload), p50/p90/p99/p999 latency\n"
    "(us), cpu (server %). Default: throughput, or gbps when every result is of a bulk\n"
    "tool (iperf3: bytes, no requests).\n"
    "--explain: for each mode against its baseline, the change in the metric beside\n"
    "the IOMMU work per request that explains it: maps, unmaps and invalidations (the\n"
    "server's iommu tracepoints) and softirq time of the pinned cores (µs), each as\n"
    "baseline -> mode.\n"
    "`bottleneck` says what limited the row's runs (link, server-cpu, client-cpu, none,\n"
    "unknown; see `results`); a mode limited by something other than its baseline is\n"
    "warned about on stderr: such a change mixes two limits.\n"
    "`unsteady` counts the runs of a row whose server rate dipped below\n"
    "telemetry.unsteady_below_pct of its median (counted, but look at them).\n"
    "Runs on simulated nodes (--simulate_boot) are refused: their modes were generated;\n"
    "--allow-simulated compares them anyway and marks every such row SIMULATED.\n";

std::string Interval(const results::Summary& s, int digits) {
  return s.ci_half ? absl::StrCat("±", absl::StrFormat("%.*f", digits, *s.ci_half)) : "n/a";
}

// "0.80 -> 2.10" (with the baseline's value first).
std::string FromTo(double base, double mode, int digits) {
  return absl::StrFormat("%.*f -> %.*f", digits, base, digits, mode);
}

// One row per mode against its group's baseline: the metric's change and
// the change in IOMMU work per request beside it.
void PrintExplanation(Context& ctx, const std::vector<results::ComparisonRow>& rows,
                      const std::string& metric, Format format) {
  Table t({{"workload"},
           {"vm"},
           {"params"},
           {"op"},
           {"baseline"},
           {"mode"},
           {absl::StrCat(metric, "_change_pct"), true},
           {"maps_per_req"},
           {"unmaps_per_req"},
           {"inval_per_req"},
           {"softirq_us_per_req"},
           {"bottleneck"},
           {"simulated"}});
  const results::ComparisonRow* base = nullptr;
  for (const auto& r : rows) {
    if (r.is_baseline) {
      base = &r;
      continue;
    }
    if (base == nullptr || base->workload != r.workload || base->vm != r.vm ||
        base->params != r.params || base->operation != r.operation || !r.change) {
      continue;
    }
    t.AddRow({r.workload, r.vm, r.params, r.operation, base->mode, r.mode,
              absl::StrFormat("%+.1f", r.change->percent),
              FromTo(base->maps_per_request, r.maps_per_request, 2),
              FromTo(base->unmaps_per_request, r.unmaps_per_request, 2),
              FromTo(base->invalidations_per_request, r.invalidations_per_request, 2),
              FromTo(base->softirq_us_per_request, r.softirq_us_per_request, 2),
              base->bottleneck == r.bottleneck
                  ? r.bottleneck
                  : absl::StrCat(base->bottleneck, " -> ", r.bottleneck),
              base->simulated || r.simulated ? "SIMULATED" : ""});
  }
  t.Print(ctx.out, format);
}

}  // namespace

int Compare(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto inv = Invoke(ctx, argv, kCompareUsage, {"allow-simulated", "explain"}, 1, 1, &code,
                    {"metric", "baseline", "confidence"});
  if (!inv) return code;
  auto id = ExperimentId(ctx, inv->args.positional[0]);
  if (!id) return kExitUsage;
  results::CompareOptions options;
  options.baseline = inv->args.Get("baseline", "");
  options.allow_simulated = inv->args.Has("allow-simulated");
  std::string confidence = inv->args.Get("confidence", "0.95");
  if (!absl::SimpleAtod(confidence, &options.confidence) || options.confidence <= 0 ||
      options.confidence >= 1) {
    ctx.err << "iommuvm: --confidence '" << confidence << "' is not between 0 and 1\n";
    return kExitUsage;
  }
  auto results = FetchResults(ctx, inv->stub.get(), inv->address, *id);
  if (!results) return kExitFailure;
  options.metric = inv->args.Get("metric", results::DefaultMetric(*results));
  auto rows = results::Compare(*results, options);
  if (!rows.ok()) {
    ctx.err << "iommuvm: " << rows.status().message() << "\n";
    return absl::IsFailedPrecondition(rows.status()) ? kExitFailure : kExitUsage;
  }
  int digits = options.metric == "throughput" ? 0 : options.metric == "gbps" ? 2 : 1;
  if (inv->args.Has("explain")) {
    PrintExplanation(ctx, *rows, options.metric, inv->format);
    for (const std::string& w : results::BottleneckWarnings(*rows)) {
      ctx.err << "warning: " << w << "\n";
    }
    return kExitOk;
  }
  std::string pct = absl::StrFormat("%g", options.confidence * 100);
  Table t({{"workload"},
           {"vm"},
           {"params"},
           {"op"},
           {"mode"},
           {"n", true},
           {options.metric, true},
           {absl::StrCat("ci", pct), true},
           {"change_pct", true},
           {absl::StrCat("change_ci", pct)},
           {"sig"},
           {"maps_per_req", true},
           {"inval_per_req", true},
           {"unsteady", true},
           {"bottleneck"},
           {"simulated"}});
  for (const auto& r : *rows) {
    std::string change, change_ci, sig;
    if (r.is_baseline) {
      change = "baseline";
    } else if (r.change) {
      change = absl::StrFormat("%+.1f", r.change->percent);
      change_ci = r.change->low ? absl::StrFormat("[%+.1f, %+.1f]", *r.change->low, *r.change->high)
                                : "n/a";
      sig = r.change->significant() ? "*" : "";
    }
    t.AddRow({r.workload, r.vm, r.params, r.operation, r.mode, absl::StrCat(r.summary.n),
              absl::StrFormat("%.*f", digits, r.summary.mean), Interval(r.summary, digits), change,
              change_ci, sig, absl::StrFormat("%.2f", r.maps_per_request),
              absl::StrFormat("%.2f", r.invalidations_per_request), absl::StrCat(r.unsteady),
              r.bottleneck, r.simulated ? "SIMULATED" : ""});
  }
  t.Print(ctx.out, inv->format);
  // On stderr, so --format csv|json output stays data.
  for (const std::string& w : results::BottleneckWarnings(*rows)) {
    ctx.err << "warning: " << w << "\n";
  }
  return kExitOk;
}

}  // namespace iommuvm::cli
