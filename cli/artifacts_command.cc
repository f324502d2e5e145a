// `iommuvm artifacts`: what an attempt kept — the load generator's raw
// output and the servers' logs — listed, or one printed as it is.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/command_support.h"

namespace iommuvm::cli {
namespace {

constexpr char kArtifactsUsage[] =
    "usage: iommuvm artifacts EXP RUN [NAME] [--attempt N] [--format table|csv|json]\n"
    "                         [--controller ADDR]\n"
    "Without NAME lists what the latest attempt of run RUN (the `run` column of\n"
    "`iommuvm status EXP`) kept: the load generator's raw output (<tool>.out)\n"
    "and the servers' logs. With NAME prints that artifact as it is.\n"
    "  --attempt N   an earlier attempt of the run (1 = the first)\n";

std::optional<uint32_t> Number(Context& ctx, const std::string& what, const std::string& text) {
  uint32_t n = 0;
  if (!absl::SimpleAtoi(text, &n)) {
    ctx.err << "iommuvm: '" << text << "' is not a " << what << " (a number)\n";
    return std::nullopt;
  }
  return n;
}

}  // namespace

int Artifacts(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto inv = Invoke(ctx, argv, kArtifactsUsage, {}, 2, 3, &code, {"attempt"});
  if (!inv) return code;
  const auto& pos = inv->args.positional;
  auto id = ExperimentId(ctx, pos[0]);
  auto run = Number(ctx, "run index", pos[1]);
  auto attempt = Number(ctx, "attempt number", inv->args.Get("attempt", "0"));
  if (!id || !run || !attempt) return kExitUsage;
  v1::GetArtifactsRequest req;
  req.set_experiment_id(*id);
  req.set_run_index(*run);
  req.set_attempt(*attempt);
  if (pos.size() > 2) req.set_name(pos[2]);
  grpc::ClientContext rpc;
  v1::GetArtifactsResponse resp;
  grpc::Status s = inv->stub->GetArtifacts(WithDeadline(&rpc), req, &resp);
  if (!s.ok()) {
    ctx.err << "iommuvm: " << RpcError(s, inv->address) << "\n";
    return kExitFailure;
  }
  if (!req.name().empty()) {
    ctx.out << resp.artifacts(0).content();
    return kExitOk;
  }
  if (inv->format == Format::kTable) {
    ctx.out << "run " << *run << ", attempt " << resp.attempt() << " of " << resp.attempts()
            << ":\n";
  }
  Table t({{"attempt", true}, {"name"}, {"bytes", true}});
  for (const auto& a : resp.artifacts()) {
    t.AddRow({absl::StrCat(resp.attempt()), a.name(), absl::StrCat(a.size_bytes())});
  }
  t.Print(ctx.out, inv->format);
  return kExitOk;
}

}  // namespace iommuvm::cli
