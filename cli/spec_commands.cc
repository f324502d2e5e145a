// `iommuvm submit` and `iommuvm validate`: commands that read spec files.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/command_support.h"
#include "cli/progress.h"

namespace iommuvm::cli {
namespace {

constexpr char kSubmitUsage[] =
    "usage: iommuvm submit FILE [--wait] [--controller ADDR] [--format table|csv|json]\n"
    "Submits an experiment spec. With --wait, shows live progress and then the\n"
    "results; exits 1 unless every run succeeded.\n";
constexpr char kValidateUsage[] =
    "usage: iommuvm validate FILE\n"
    "Checks a spec and prints every error as FILE:LINE:COLUMN: key.path: message.\n";

}  // namespace

int Validate(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto args = ParseCommand(ctx, argv, kValidateUsage, {}, {}, 1, 1, &code);
  if (!args) return code;
  if (!LoadSpec(ctx, args->positional[0], "")) return kExitFailure;
  ctx.out << args->positional[0] << ": valid\n";
  return kExitOk;
}

int Submit(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto inv = Invoke(ctx, argv, kSubmitUsage, {"wait"}, 1, 1, &code);
  if (!inv) return code;
  const std::string& path = inv->args.positional[0];
  auto loaded = LoadSpec(ctx, path, "; nothing was submitted");
  if (!loaded) return kExitFailure;
  auto& stub = inv->stub;
  const std::string& address = inv->address;
  v1::SubmitExperimentRequest req;
  req.set_spec_yaml(loaded->yaml);
  req.set_file_name(path);
  v1::SubmitExperimentResponse resp;
  grpc::ClientContext rpc;
  grpc::Status s = stub->SubmitExperiment(WithDeadline(&rpc), req, &resp);
  if (!s.ok()) {
    ctx.err << "iommuvm: submit failed: " << RpcError(s, address) << "\n";
    return kExitFailure;
  }
  if (resp.experiment_id() == 0) {
    for (const auto& e : resp.errors()) {
      ctx.err << path << ":" << e.line() << ":" << e.column() << ": " << e.key_path() << ": "
              << e.message() << "\n";
    }
    return kExitFailure;
  }
  for (const auto& w : resp.warnings()) {
    ctx.err << path << ":" << w.line() << ":" << w.column() << ": " << w.key_path()
            << ": warning: " << w.message() << "\n";
  }
  ctx.out << "submitted experiment " << resp.experiment_id() << "\n";
  if (!inv->args.Has("wait")) return kExitOk;
  auto final_state = FollowExperiment(ctx, stub.get(), resp.experiment_id());
  if (!final_state) return kExitFailure;
  if (!PrintResults(ctx, stub.get(), address, resp.experiment_id(), inv->format)) return kExitFailure;
  return *final_state == v1::EXPERIMENT_STATE_SUCCEEDED ? kExitOk : kExitFailure;
}

}  // namespace iommuvm::cli
