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
    "usage: iommuvm validate FILE [--nodes] [--controller HOST:PORT]\n"
    "Checks a spec and prints every error as FILE:LINE:COLUMN: key.path: message.\n"
    "  --nodes  also check it against the controller's registered nodes, as a submit\n"
    "           would (pairs and roles, what each node can run, server cores spanning\n"
    "           NUMA nodes or away from the data NIC's), storing nothing\n";

// Sends `loaded` to the controller (`validate_only`: to check it); prints
// its errors and warnings as FILE:LINE:COLUMN. nullopt after an RPC error.
std::optional<v1::SubmitExperimentResponse> SendSpec(Context& ctx, Invocation& inv,
                                                     const std::string& path,
                                                     const LoadedSpec& loaded, bool validate_only) {
  v1::SubmitExperimentRequest req;
  req.set_spec_yaml(loaded.yaml);
  req.set_file_name(path);
  req.set_validate_only(validate_only);
  v1::SubmitExperimentResponse resp;
  grpc::ClientContext rpc;
  grpc::Status s = inv.stub->SubmitExperiment(WithDeadline(&rpc), req, &resp);
  if (!s.ok()) {
    ctx.err << "iommuvm: " << (validate_only ? "validate" : "submit")
            << " failed: " << RpcError(s, inv.address) << "\n";
    return std::nullopt;
  }
  for (const auto& e : resp.errors()) {
    ctx.err << path << ":" << e.line() << ":" << e.column() << ": " << e.key_path() << ": "
            << e.message() << "\n";
  }
  for (const auto& w : resp.warnings()) {
    ctx.err << path << ":" << w.line() << ":" << w.column() << ": " << w.key_path()
            << ": warning: " << w.message() << "\n";
  }
  return resp;
}

}  // namespace

int Validate(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto inv = Invoke(ctx, argv, kValidateUsage, {"nodes"}, 1, 1, &code);
  if (!inv) return code;
  const std::string& path = inv->args.positional[0];
  auto loaded = LoadSpec(ctx, path, "");
  if (!loaded) return kExitFailure;
  if (inv->args.Has("nodes")) {
    auto resp = SendSpec(ctx, *inv, path, *loaded, /*validate_only=*/true);
    if (!resp || resp->errors_size() > 0) return kExitFailure;
    ctx.out << path << ": valid, also against the nodes registered at " << inv->address << "\n";
    return kExitOk;
  }
  ctx.out << path << ": valid\n";
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
  auto sent = SendSpec(ctx, *inv, path, *loaded, /*validate_only=*/false);
  if (!sent) return kExitFailure;
  const v1::SubmitExperimentResponse& resp = *sent;
  if (resp.experiment_id() == 0) return kExitFailure;
  ctx.out << "submitted experiment " << resp.experiment_id() << "\n";
  if (!inv->args.Has("wait")) return kExitOk;
  auto final_state = FollowExperiment(ctx, stub.get(), resp.experiment_id());
  if (!final_state) return kExitFailure;
  if (!PrintResults(ctx, stub.get(), address, resp.experiment_id(), inv->format)) return kExitFailure;
  return *final_state == v1::EXPERIMENT_STATE_SUCCEEDED ? kExitOk : kExitFailure;
}

}  // namespace iommuvm::cli
