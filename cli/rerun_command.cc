// `iommuvm rerun`: new attempts for an experiment's failed, cancelled or
// unsteady runs, in the same experiment (controller/scheduler/rerun.h).
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/progress.h"

namespace iommuvm::cli {
namespace {

constexpr char kRerunUsage[] =
    "usage: iommuvm rerun EXP [--failed] [--unsteady] [--cell AXIS=VALUE[,AXIS=VALUE...]]\n"
    "                         [--wait] [--controller ADDR] [--format table|csv|json]\n"
    "Queues new attempts, in the same experiment, for the runs that lack a result:\n"
    "--failed (the default) takes failed and cancelled runs, --unsteady succeeded runs\n"
    "marked unsteady (their new result replaces the old; the old attempt stays in the\n"
    "history). --cell limits it to runs with these axis values (iommu, workload, vm,\n"
    "repetition, the matrix's own axes); several cells are separated by ';'\n"
    "(--cell 'iommu=strict;iommu=lazy,workload=redis-get'). With --wait, follows the\n"
    "experiment live and then prints its results.\n";

}  // namespace

int Rerun(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto inv = Invoke(ctx, argv, kRerunUsage, {"failed", "unsteady", "wait"}, 1, 1, &code, {"cell"});
  if (!inv) return code;
  auto id = ExperimentId(ctx, inv->args.positional[0]);
  if (!id) return kExitUsage;
  v1::RerunExperimentRequest req;
  req.set_experiment_id(*id);
  req.set_unsteady(inv->args.Has("unsteady"));
  req.set_failed(inv->args.Has("failed") || !req.unsteady());
  for (absl::string_view cell :
       absl::StrSplit(inv->args.Get("cell", ""), ';', absl::SkipWhitespace())) {
    req.add_cells(std::string(cell));
  }
  v1::RerunExperimentResponse resp;
  grpc::ClientContext rpc;
  grpc::Status s = inv->stub->RerunExperiment(WithDeadline(&rpc), req, &resp);
  if (!s.ok()) {
    ctx.err << "iommuvm: " << RpcError(s, inv->address) << "\n";
    return s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? kExitUsage : kExitFailure;
  }
  if (resp.run_indexes().empty()) {
    ctx.out << "experiment " << *id << ": no " << (req.failed() ? "failed or cancelled" : "")
            << (req.failed() && req.unsteady() ? " or " : "") << (req.unsteady() ? "unsteady" : "")
            << " runs" << (req.cells().empty() ? "" : " in those cells") << " to rerun\n";
    return kExitOk;
  }
  ctx.out << "experiment " << *id << ": " << resp.run_indexes_size() << " runs queued again ("
          << absl::StrJoin(resp.run_indexes(), " ") << ")\n";
  if (!inv->args.Has("wait")) return kExitOk;
  auto final_state = FollowExperiment(ctx, inv->stub.get(), *id);
  if (!final_state) return kExitFailure;
  if (!PrintResults(ctx, inv->stub.get(), inv->address, *id, inv->format)) return kExitFailure;
  return *final_state == v1::EXPERIMENT_STATE_SUCCEEDED ? kExitOk : kExitFailure;
}

}  // namespace iommuvm::cli
