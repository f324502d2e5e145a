#include "agent/workload/iperf3.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/workload/iperf3_parser.h"
#include "common/cpu_list.h"
#include "common/status_macros.h"

namespace iommuvm::agent {
namespace {

uint32_t Flows(const v1::RunLoad& load) { return std::max<uint32_t>(1, load.flows()); }

}  // namespace

std::vector<std::string> Iperf3::FlowCommandLine(const v1::RunLoad& load, uint32_t index) const {
  std::vector<std::string> argv = {"iperf3",
                                   "-c",
                                   load.target_host(),
                                   "-p",
                                   absl::StrCat(load.target_port() + index),
                                   "-t",
                                   absl::StrCat(DurationSeconds(load)),
                                   "-J"};
  if (load.warmup_ms() > 0) {
    // Whole seconds: iperf3 before 3.17 takes an integer --omit.
    argv.insert(argv.end(), {"-O", absl::StrCat((load.warmup_ms() + 999) / 1000)});
  }
  if (!load.congestion().empty()) argv.insert(argv.end(), {"-C", load.congestion()});
  if (load.socket_buffer_bytes() > 0) {
    argv.insert(argv.end(), {"-w", absl::StrCat(load.socket_buffer_bytes())});
  }
  if (load.write_size_bytes() > 0) {
    argv.insert(argv.end(), {"-l", absl::StrCat(load.write_size_bytes())});
  }
  // Flow i on the i-th core (validated with the spec).
  absl::StatusOr<int> cpu = CpuAt(load.cores(), index);
  return PinnedCommand(cpu.ok() ? absl::StrCat(*cpu) : "", std::move(argv));
}

std::vector<std::string> Iperf3::CommandLine(const v1::RunLoad& load) const {
  return FlowCommandLine(load, 0);
}

absl::StatusOr<LoadResult> Iperf3::Run(const v1::RunLoad& load, const std::string& run_dir,
                                       absl::Duration timeout, const std::atomic<bool>* cancel) {
  uint32_t flows = Flows(load);
  std::vector<absl::StatusOr<CommandResult>> runs(flows, absl::UnknownError("not run"));
  {
    // All flows at once, each waited for on its own thread (a child dies
    // with the thread that started it, and these threads outlive them).
    std::vector<std::thread> threads;
    for (uint32_t i = 0; i < flows; ++i) {
      threads.emplace_back([&, i] {
        CommandSpec spec;
        spec.argv = FlowCommandLine(load, i);
        spec.cwd = run_dir;
        spec.timeout = timeout;
        spec.cancel = cancel;
        runs[i] = env_.runner->Run(spec);
      });
    }
    for (auto& t : threads) t.join();
  }
  LoadResult result;
  result.tool = "iperf3";
  result.tool_version = ToolVersion(env_, {"iperf3", "--version"});
  v1::OperationResult total;
  total.set_operation("total");
  std::vector<v1::OperationResult> per_flow;
  absl::Status first_error;
  for (uint32_t i = 0; i < flows; ++i) {
    if (!runs[i].ok()) return runs[i].status();
    const CommandResult& run = *runs[i];
    std::string output = run.out + run.err;
    absl::StrAppend(&result.raw_output, flows > 1 ? absl::StrCat("== flow ", i, " ==\n") : "",
                    output);
    (void)env_.files->WriteFile(absl::StrCat(run_dir, "/iperf3-", i, ".json"), output);
    if (run.timed_out || run.cancelled) return absl::DeadlineExceededError(run.Describe("iperf3"));
    auto flow = ParseIperf3Json(output);
    if (!flow.ok()) {
      if (first_error.ok()) {
        first_error = absl::Status(flow.status().code(),
                                   absl::StrCat("flow ", i, ": ", flow.status().message()));
      }
      continue;
    }
    if (flow->bytes_received == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("iperf3 flow ", i, " moved no data in its measured interval"));
    }
    v1::OperationResult op;
    op.set_operation(absl::StrCat("flow-", i));
    op.set_duration_s(flow->seconds);
    op.set_throughput_bytes(static_cast<double>(flow->bytes_received) / flow->seconds);
    total.set_throughput_bytes(total.throughput_bytes() + op.throughput_bytes());
    total.set_duration_s(std::max(total.duration_s(), flow->seconds));
    result.payload_bytes += flow->bytes_sent;
    per_flow.push_back(std::move(op));
  }
  if (!first_error.ok()) return first_error;
  result.operations.push_back(std::move(total));
  if (flows > 1) {
    for (auto& op : per_flow) result.operations.push_back(std::move(op));
  }
  return result;
}

}  // namespace iommuvm::agent
