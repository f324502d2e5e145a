// `iommuvm status`, `results`, `agents` and `cancel`: what the controller
// holds about experiments and agents.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/command_support.h"
#include "iommu/mode_names.h"
#include "proto/state_names.h"
#include "spec/params.h"
#include "spec/spec.h"

namespace iommuvm::cli {
namespace {

constexpr char kStatusUsage[] =
    "usage: iommuvm status [EXP] [--format table|csv|json] [--controller ADDR]\n"
    "Without EXP lists experiments; with EXP shows each run, its latest attempt\n"
    "and the evidence recorded for it.\n";
constexpr char kResultsUsage[] =
    "usage: iommuvm results EXP [--format table|csv|json] [--controller ADDR]\n"
    "One row per run and measured operation: throughput (ops/s, and Gbit/s of payload)\n"
    "and latency percentiles, the server's telemetry over the load, and what limited\n"
    "the run: `bottleneck` is link (the data link's busier direction at >= 90% of its\n"
    "speed), server-cpu (the server's pinned cores, else its node, >= 95% busy),\n"
    "client-cpu (the generator's threads >= 95% busy), none (below saturation: expected\n"
    "of a fixed-rate run) or unknown (a limit could not be measured); `limits` shows\n"
    "each one as measured.\n";
constexpr char kAgentsUsage[] =
    "usage: iommuvm agents [--format table|csv|json] [--controller ADDR]\n"
    "       iommuvm agents --release ID\n"
    "Known agents with their roles and health (READY, BUSY, LOST, QUARANTINED; STOPPED: a\n"
    "VM run's guest its host is not running), and the data messages the controller\n"
    "refused from each. --release takes a quarantined agent back into service (a node\n"
    "lost 3 times, or not back from a boot within timeouts.boot, is quarantined and gets\n"
    "no runs; `why` says which, with the console's last line where the controller has\n"
    "--console_command).\n";

std::string Roles(const google::protobuf::RepeatedField<int>& roles) {
  std::vector<std::string> names;
  for (int r : roles) names.push_back(r == v1::ROLE_SERVER ? "server" : "client");
  return absl::StrJoin(names, ",");
}

std::string Params(const google::protobuf::Map<std::string, std::string>& params) {
  return spec::FormatParams(std::map<std::string, std::string>(params.begin(), params.end()));
}

std::string Evidence(const v1::Run& r) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : r.evidence()) {
    if (k == "verify.detected") parts.push_back(absl::StrCat("mode=", v));
    if (k == "verify.data_group" && !v.empty()) parts.push_back(absl::StrCat("group=", v));
    if (k == "verify.data_group_type" && !v.empty()) parts.push_back(absl::StrCat("type=", v));
    if (k == "verify.boot_id") parts.push_back(absl::StrCat("boot=", v.substr(0, 8)));
    if (k == "switch.method" && !v.empty()) parts.push_back(absl::StrCat("switched=", v));
  }
  std::sort(parts.begin(), parts.end());
  return absl::StrJoin(parts, " ");
}

constexpr char kCancelUsage[] =
    "usage: iommuvm cancel EXP [--controller ADDR]\n"
    "Cancels every unfinished run of an experiment; servers it started are stopped.\n";

}  // namespace

int Cancel(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto inv = Invoke(ctx, argv, kCancelUsage, {}, 1, 1, &code);
  if (!inv) return code;
  auto id = ExperimentId(ctx, inv->args.positional[0]);
  if (!id) return kExitUsage;
  grpc::ClientContext rpc;
  v1::CancelExperimentRequest req;
  req.set_experiment_id(*id);
  v1::Experiment e;
  grpc::Status s = inv->stub->CancelExperiment(WithDeadline(&rpc), req, &e);
  if (!s.ok()) {
    ctx.err << "iommuvm: " << RpcError(s, inv->address) << "\n";
    return kExitFailure;
  }
  ctx.out << "experiment " << e.id() << " " << StateName(e.state()) << ": " << e.runs_succeeded()
          << " runs succeeded, " << e.runs_cancelled() << " cancelled\n";
  return kExitOk;
}

int Status(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto inv = Invoke(ctx, argv, kStatusUsage, {}, 0, 1, &code);
  if (!inv) return code;
  const Args* args = &inv->args;
  const Format* format = &inv->format;
  const std::string& address = inv->address;
  auto& stub = inv->stub;
  grpc::ClientContext rpc;
  if (args->positional.empty()) {
    v1::ListExperimentsResponse resp;
    grpc::Status s = stub->ListExperiments(WithDeadline(&rpc), {}, &resp);
    if (!s.ok()) {
      ctx.err << "iommuvm: " << RpcError(s, address) << "\n";
      return kExitFailure;
    }
    Table t({{"id", true},
             {"name"},
             {"state"},
             {"runs", true},
             {"succeeded", true},
             {"failed", true},
             {"active", true},
             {"created"},
             {"waiting"}});
    for (const auto& e : resp.experiments()) {
      t.AddRow({absl::StrCat(e.id()), e.name(), std::string(StateName(e.state())), absl::StrCat(e.runs_total()),
                absl::StrCat(e.runs_succeeded()), absl::StrCat(e.runs_failed()),
                absl::StrCat(e.runs_active()), FormatTimeMs(e.created_ms()), e.waiting()});
    }
    t.Print(ctx.out, *format);
    return kExitOk;
  }
  auto id = ExperimentId(ctx, args->positional[0]);
  if (!id) return kExitUsage;
  v1::GetExperimentRequest req;
  req.set_experiment_id(*id);
  auto fetched = FetchExperiment(ctx, stub.get(), address, req);
  if (!fetched) return kExitFailure;
  const v1::Experiment& e = *fetched;
  if (*format == Format::kTable) {
    ctx.out << "experiment " << e.id() << " '" << e.name() << "' " << StateName(e.state()) << ": "
            << e.runs_succeeded() << "/" << e.runs_total() << " runs succeeded, " << e.runs_failed()
            << " failed (spec sha256 " << e.spec_sha256().substr(0, 12) << ")\n";
    if (!e.waiting().empty()) ctx.out << "waiting: " << e.waiting() << "\n";
  }
  Table t({{"run", true},
           {"iommu"},
           {"workload"},
           {"vm"},
           {"params"},
           {"rep", true},
           {"state"},
           {"attempt"},
           {"attempts", true},
           {"server"},
           {"client"},
           {"evidence"},
           {"error"}});
  for (const auto& r : e.runs()) {
    t.AddRow({absl::StrCat(r.index()), iommu::IommuModeName(r.iommu()), r.workload(), r.vm(),
              Params(r.params()), absl::StrCat(r.repetition()), std::string(StateName(r.state())), std::string(StateName(r.attempt_state())),
              absl::StrCat(r.attempts()), r.server_node(), r.client_node(), Evidence(r),
              r.error()});
  }
  t.Print(ctx.out, *format);
  return kExitOk;
}

bool PrintResults(Context& ctx, v1::ControllerService::StubInterface* stub,
                  const std::string& address, int64_t id, Format format) {
  // `verified` is the mode the node's probe saw (for `current`, what the
  // node runs; otherwise the requested mode, proven).
  Table t({{"run", true},
           {"iommu"},
           {"verified"},
           {"workload"},
           {"vm"},
           {"params"},
           {"rep", true},
           {"op"},
           {"throughput_ops", true},
           {"gbit_s", true},
           {"p50_us", true},
           {"p99_us", true},
           {"max_us", true},
           {"srv_cpu_pct", true},
           {"srv_irq_per_s", true},
           {"srv_pkt_per_s", true},
           {"samples", true},
           {"state"},
           {"error"},
           {"unsteady"},
           {"bottleneck"},
           {"simulated"},
           {"limits"}});
  // Each page's rows are laid out while the next pages are fetched.
  auto add_rows = [&](const v1::GetResultsResponse& page) {
    for (const v1::ResultRow& r : page.rows()) {
      bool has = r.has_result();
      const v1::OperationResult& o = r.result();
      t.AddRow({absl::StrCat(r.run_index()),
                iommu::IommuModeName(r.iommu()),
                r.detected_mode(),
                r.workload(),
                r.vm(),
                Params(r.params()),
                absl::StrCat(r.repetition()),
                has ? o.operation() : "",
                has ? Fixed(o.throughput_ops(), 1) : "",
                has ? Fixed(o.throughput_bytes() * 8 / 1e9, 3) : "",
                has ? Fixed(o.latency_p50_us(), 1) : "",
                has ? Fixed(o.latency_p99_us(), 1) : "",
                has ? Fixed(o.latency_max_us(), 1) : "",
                Fixed(r.server_cpu_utilization() * 100, 1),
                Fixed(r.server_interrupts_per_second(), 0),
                Fixed(r.server_packets_per_second(), 0),
                absl::StrCat(r.metric_samples()),
                std::string(StateName(r.state())),
                r.error(),
                r.unsteady(),
                r.bottleneck(),
                r.simulated() ? "SIMULATED" : "",
                r.bottleneck_evidence()});
    }
  };
  google::protobuf::Arena arena;
  if (!FetchResultPages(ctx, stub, address, id, &arena, add_rows)) return false;
  t.Print(ctx.out, format);
  return true;
}

int Results(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto inv = Invoke(ctx, argv, kResultsUsage, {}, 1, 1, &code);
  if (!inv) return code;
  auto id = ExperimentId(ctx, inv->args.positional[0]);
  if (!id) return kExitUsage;
  return PrintResults(ctx, inv->stub.get(), inv->address, *id, inv->format) ? kExitOk
                                                                            : kExitFailure;
}

int Agents(Context& ctx, const std::vector<std::string>& argv) {
  int code = kExitOk;
  auto inv = Invoke(ctx, argv, kAgentsUsage, {}, 0, 0, &code, {"release"});
  if (!inv) return code;
  if (inv->args.Has("release")) {
    grpc::ClientContext release_rpc;
    v1::ReleaseAgentRequest req;
    req.set_agent_id(inv->args.Get("release", ""));
    v1::Agent released;
    grpc::Status s = inv->stub->ReleaseAgent(WithDeadline(&release_rpc), req, &released);
    if (!s.ok()) {
      ctx.err << "iommuvm: " << RpcError(s, inv->address) << "\n";
      return kExitFailure;
    }
    ctx.out << "agent " << released.agent_id() << " released: " << StateName(released.health()) << "\n";
    return kExitOk;
  }
  const Format* format = &inv->format;
  const std::string& address = inv->address;
  auto& stub = inv->stub;
  grpc::ClientContext rpc;
  v1::ListAgentsResponse resp;
  grpc::Status s = stub->ListAgents(WithDeadline(&rpc), {}, &resp);
  if (!s.ok()) {
    ctx.err << "iommuvm: " << RpcError(s, address) << "\n";
    return kExitFailure;
  }
  Table t({{"agent"},
           {"roles"},
           {"health"},
           {"iommu"},
           {"cpu"},
           {"hostname"},
           {"data_address"},
           {"boot_id"},
           {"last_seen"},
           {"rejected"},
           {"last_rejection"},
           {"switches"},
           {"why"}});
  for (const auto& a : resp.agents()) {
    // "kexec 18.2s x4, sysfs 0.3s x3": the median of each method's switches.
    std::vector<std::string> switches;
    for (const auto& c : a.switch_costs()) {
      switches.push_back(absl::StrCat(
          c.method(), " ", absl::StrFormat("%.1f", c.median_ms() / 1000.0), "s x", c.count()));
    }
    t.AddRow({a.agent_id(), Roles(a.roles()), std::string(StateName(a.health())), a.iommu_mode(),
              a.cpu_vendor(), a.hostname(), a.data_address(), a.boot_id(),
              FormatTimeMs(a.last_seen_ms()), std::to_string(a.rejected_messages()),
              a.last_rejection(), absl::StrJoin(switches, ", "), a.health_reason()});
  }
  t.Print(ctx.out, *format);
  return kExitOk;
}

}  // namespace iommuvm::cli
