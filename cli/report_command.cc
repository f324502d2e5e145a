// `iommuvm report`: an experiment as one self-contained HTML file.
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/command_support.h"
#include "results/html_report.h"

namespace iommuvm::cli {
namespace {

constexpr char kReportUsage[] =
    "usage: iommuvm report EXP [--out FILE] [--controller ADDR]\n"
    "Writes one self-contained HTML file (default report-EXP.html): what each IOMMU\n"
    "mode costs per workload with 95% confidence intervals (bars with interval\n"
    "whiskers, changes against a baseline mode), every run with its verified mode,\n"
    "and the spec the experiment ran.\n";

}  // namespace

int Report(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto inv = Invoke(ctx, argv, kReportUsage, {}, 1, 1, &code, {"out"});
  if (!inv) return code;
  auto id = ExperimentId(ctx, inv->args.positional[0]);
  if (!id) return kExitUsage;
  results::ReportInput input;
  {
    // The report's runs are its result rows: the experiment without them.
    grpc::ClientContext rpc;
    v1::GetExperimentRequest req;
    req.set_experiment_id(*id);
    req.set_without_runs(true);
    grpc::Status s = inv->stub->GetExperiment(WithDeadline(&rpc), req, &input.experiment);
    if (!s.ok()) {
      ctx.err << "iommuvm: " << RpcError(s, inv->address) << "\n";
      return kExitFailure;
    }
  }
  auto rows = FetchResults(ctx, inv->stub.get(), inv->address, *id);
  if (!rows) return kExitFailure;
  input.rows = std::move(*rows);
  input.generated_at = absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::Now(), absl::UTCTimeZone());
  std::string path = inv->args.Get("out", absl::StrCat("report-", *id, ".html"));
  std::ofstream out(path);
  out << results::RenderHtmlReport(input);
  out.close();
  if (!out) {
    ctx.err << "iommuvm: cannot write " << path << "\n";
    return kExitFailure;
  }
  ctx.out << "wrote " << path << " (" << input.rows.size() << " result rows)\n";
  return kExitOk;
}

}  // namespace iommuvm::cli
