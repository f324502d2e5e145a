// `iommuvm diff-env EXP RUN_A RUN_B`: the environment two runs were
// measured in, knob by knob (what each node's agent read before the run:
// governor, turbo, C-states, SMT, irqbalance, kernel, the data NIC's MTU,
// channels, rings, pause, offloads and IRQs; agent/node/host_environment.h).
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/command_support.h"
#include "cli/commands.h"

namespace iommuvm::cli {
namespace {

constexpr char kDiffEnvUsage[] =
    "usage: iommuvm diff-env EXP RUN_A RUN_B [--all] [--format table|csv|json]\n"
    "       iommuvm diff-env EXP_A:RUN_A EXP_B:RUN_B [...]  (runs of two experiments)\n"
    "The environment two runs were measured in, knob by knob, as the\n"
    "server's and the client's agents read it before the run (whether or not the spec's\n"
    "host: section set it): the knobs that differ, or every knob with --all. Exits 1 when\n"
    "a knob differs, so scripts can require two runs to be comparable.\n";

// The env.* evidence of a run as "server governor" -> "performance".
std::map<std::string, std::string> EnvOf(const v1::Run& r) {
  std::map<std::string, std::string> env;
  // The IOMMU mode each node ran belongs to its environment too.
  for (const auto& [key, knob] : {std::pair{"verify.detected", "server iommu_mode"},
                                  std::pair{"client.iommu_mode", "client iommu_mode"}}) {
    auto it = r.evidence().find(key);
    if (it != r.evidence().end()) env[knob] = it->second;
  }
  for (const auto& [k, v] : r.evidence()) {
    for (const char* role : {"server", "client"}) {
      std::string prefix = absl::StrCat(role, ".env.");
      if (absl::StartsWith(k, prefix)) env[absl::StrCat(role, " ", k.substr(prefix.size()))] = v;
    }
  }
  return env;
}

// "3" with the experiment given, or "2:3".
bool ParseRunRef(const std::string& text, int64_t default_experiment, int64_t* experiment,
                 uint32_t* run) {
  size_t colon = text.find(':');
  *experiment = default_experiment;
  if (colon != std::string::npos && !absl::SimpleAtoi(text.substr(0, colon), experiment)) {
    return false;
  }
  return absl::SimpleAtoi(colon == std::string::npos ? text : text.substr(colon + 1), run) &&
         *experiment > 0;
}

}  // namespace

int DiffEnv(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto inv = Invoke(ctx, argv, kDiffEnvUsage, {"all"}, 2, 3, &code);
  if (!inv) return code;
  const auto& pos = inv->args.positional;
  int64_t experiment = 0;
  if (pos.size() == 3) {
    auto id = ExperimentId(ctx, pos[0]);
    if (!id) return kExitUsage;
    experiment = *id;
  }
  int64_t exps[2];
  uint32_t idx[2];
  for (int i = 0; i < 2; ++i) {
    if (!ParseRunRef(pos[pos.size() - 2 + i], experiment, &exps[i], &idx[i])) {
      ctx.err << "iommuvm: '" << pos[pos.size() - 2 + i]
              << "' is not a run: write RUN (with EXP first) or EXP:RUN, as `iommuvm status` "
                 "numbers them\n";
      return kExitUsage;
    }
  }
  std::map<std::string, std::string> envs[2];
  for (int i = 0; i < 2; ++i) {
    // The one run, with all its evidence.
    v1::GetExperimentRequest req;
    req.set_experiment_id(exps[i]);
    req.add_run_indexes(idx[i]);
    v1::Experiment e;
    grpc::ClientContext rpc;
    grpc::Status s = inv->stub->GetExperiment(WithDeadline(&rpc), req, &e);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND && e.runs_size() == 0 &&
        absl::StrContains(s.error_message(), "has no run")) {
      ctx.err << "iommuvm: experiment " << exps[i] << " has no run " << idx[i] << "\n";
      return kExitUsage;
    }
    if (!s.ok()) {
      ctx.err << "iommuvm: " << RpcError(s, inv->address) << "\n";
      return kExitFailure;
    }
    envs[i] = EnvOf(e.runs(0));
  }
  std::string a = exps[0] == exps[1] ? absl::StrCat(idx[0]) : absl::StrCat(exps[0], ":", idx[0]);
  std::string b = exps[0] == exps[1] ? absl::StrCat(idx[1]) : absl::StrCat(exps[1], ":", idx[1]);
  std::map<std::string, std::string>&env_a = envs[0], &env_b = envs[1];
  if (env_a.empty() || env_b.empty()) {
    ctx.err << "iommuvm: run " << (env_a.empty() ? a : b)
            << " has no recorded environment (it has not started, or ran before agents "
               "recorded one)\n";
    return kExitFailure;
  }
  std::set<std::string> knobs;
  for (const auto& [k, v] : env_a) knobs.insert(k);
  for (const auto& [k, v] : env_b) knobs.insert(k);
  Table t({{"knob"}, {absl::StrCat("run ", a)}, {absl::StrCat("run ", b)}, {"differs"}});
  int differing = 0;
  for (const std::string& k : knobs) {
    std::string va = env_a.count(k) ? env_a[k] : "-", vb = env_b.count(k) ? env_b[k] : "-";
    bool differs = va != vb;
    differing += differs;
    if (differs || inv->args.Has("all")) t.AddRow({k, va, vb, differs ? "*" : ""});
  }
  t.Print(ctx.out, inv->format);
  if (inv->format == Format::kTable) {
    ctx.out << differing << " of " << knobs.size() << " knobs differ between run " << a
            << " and run " << b << "\n";
  }
  return differing == 0 ? kExitOk : kExitFailure;
}

}  // namespace iommuvm::cli
