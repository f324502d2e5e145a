#include "agent/workload/load_generator.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/workload/iperf3.h"
#include "agent/workload/memcaslap.h"
#include "agent/workload/memtier.h"
#include "agent/workload/netperf.h"
#include "agent/workload/redis_benchmark.h"
#include "agent/workload/sockperf.h"
#include "agent/workload/wrk.h"
#include "common/cpu_list.h"

namespace iommuvm::agent {

absl::StatusOr<CommandResult> RunTool(const WorkloadEnv& env, std::vector<std::string> argv,
                                      const std::string& run_dir, absl::Duration timeout,
                                      const std::atomic<bool>* cancel, std::string* raw_output,
                                      std::function<void(absl::string_view)> on_stdout,
                                      std::function<void(absl::string_view)> on_stderr) {
  CommandSpec spec;
  spec.on_stdout = std::move(on_stdout);
  spec.on_stderr = std::move(on_stderr);
  std::string tool = ProgramOf(argv);  // sockperf.out, not taskset.out, when pinned
  spec.argv = std::move(argv);
  spec.cwd = run_dir;
  spec.timeout = timeout;
  spec.cancel = cancel;
  auto run = env.runner->Run(spec);
  if (!run.ok()) return run.status();
  *raw_output = run->out + run->err;
  (void)env.files->WriteFile(run_dir + "/" + tool + ".out", *raw_output);  // kept for the user
  return run;
}

void LoadGenerator::ReportProgress(double ops_per_second, absl::Time now) {
  if (!progress_) return;
  pending_sum_ += ops_per_second;
  ++pending_count_;
  // A little slack so a tool printing exactly every interval is not
  // skipped every other time by jitter.
  if (now - last_report_ < progress_interval_ * 0.9) return;
  progress_(pending_sum_ / pending_count_);
  last_report_ = now;
  pending_sum_ = 0;
  pending_count_ = 0;
}

std::string ToolVersion(const WorkloadEnv& env, std::vector<std::string> argv) {
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = absl::Seconds(5);
  auto r = env.runner->Run(spec);
  if (!r.ok()) return "";
  std::string text(absl::StripAsciiWhitespace(r->out.empty() ? r->err : r->out));
  return text.substr(0, text.find('\n'));
}

Concurrency ConcurrencyOf(const v1::RunLoad& load) {
  uint32_t clients = std::max<uint32_t>(1, load.clients());
  return {clients, std::min(clients, load.threads() > 0 ? load.threads() : 2u)};
}

uint32_t DurationSeconds(const v1::RunLoad& load) {
  return std::max<uint32_t>(1, (load.duration_ms() + 999) / 1000);
}

uint32_t MessageSize(const v1::RunLoad& load) {
  return load.message_size() > 0 ? load.message_size() : 64;
}

std::string DescribeErrors(const std::map<std::string, uint64_t>& by_kind) {
  uint64_t total = 0;
  std::vector<std::string> kinds;
  for (const auto& [kind, n] : by_kind) {
    if (n == 0) continue;
    total += n;
    kinds.push_back(absl::StrCat(kind, " ", n));
  }
  return absl::StrCat(total, total == 1 ? " error (" : " errors (", absl::StrJoin(kinds, ", "), ")");
}

bool SaysTheConnectionFailed(absl::string_view output) {
  // strerror texts (hiredis, libevent, wrk, memtier print them), and
  // redis-benchmark's own words when it cannot connect or the server hangs up.
  for (absl::string_view words :
       {"Connection reset by peer", "Connection refused", "Broken pipe", "Connection timed out",
        "No route to host", "Network is unreachable", "Server closed the connection",
        "Could not connect to Redis at"}) {
    if (absl::StrContains(output, words)) return true;
  }
  return false;
}

absl::Status RequireServedWithoutErrors(const std::string& tool,
                                        const std::vector<v1::OperationResult>& operations) {
  for (const auto& op : operations) {
    std::map<std::string, uint64_t> by_kind(op.errors_by_kind().begin(),
                                            op.errors_by_kind().end());
    if (by_kind.empty() && op.errors() > 0) by_kind["unspecified"] = op.errors();
    if (op.errors() > 0 || !by_kind.empty()) {
      std::string what = absl::StrCat(tool, " saw ", DescribeErrors(by_kind), " in ",
                                      op.requests(), " ", op.operation(), " requests");
      // Socket errors and timeouts come from the network and may pass;
      // wrong responses (http_status) come from the setup and will not.
      bool network = true;
      for (const auto& [kind, n] : by_kind) {
        network = network && (kind == "connect" || kind == "read" || kind == "write" ||
                              kind == "timeout" || kind == "connection");
      }
      return network ? absl::UnavailableError(what) : absl::FailedPreconditionError(what);
    }
    if (op.throughput_ops() <= 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(tool, " reported zero throughput for ", op.operation()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LoadGenerator>> MakeLoadGenerator(const std::string& tool,
                                                                 const WorkloadEnv& env) {
  if (tool == "redis-benchmark") return std::unique_ptr<LoadGenerator>(new RedisBenchmark(env));
  if (tool == "memtier_benchmark") {
    return std::unique_ptr<LoadGenerator>(new MemtierBenchmark(env));
  }
  if (tool == "memcaslap") return std::unique_ptr<LoadGenerator>(new Memcaslap(env));
  if (tool == "wrk") return std::unique_ptr<LoadGenerator>(new Wrk(env, /*open_loop=*/false));
  if (tool == "wrk2") return std::unique_ptr<LoadGenerator>(new Wrk(env, /*open_loop=*/true));
  if (tool == "iperf3") return std::unique_ptr<LoadGenerator>(new Iperf3(env));
  if (tool == "sockperf") return std::unique_ptr<LoadGenerator>(new Sockperf(env));
  if (tool == "netperf") return std::unique_ptr<LoadGenerator>(new Netperf(env));
  return absl::InvalidArgumentError(
      absl::StrCat("unknown load generator '", tool,
                   "'; known: redis-benchmark, memtier_benchmark, memcaslap, wrk, wrk2, iperf3, "
                   "sockperf, netperf"));
}

uint32_t LoadGenerator::Threads(const v1::RunLoad& load) const {
  return ConcurrencyOf(load).threads;
}

uint64_t PayloadBytes(const LoadResult& result) {
  if (result.payload_bytes > 0) return result.payload_bytes;
  // Not throughput_bytes: redis-benchmark's and memcaslap's are requests ×
  // value size, more than a GET that misses moves.
  double requests = 0;
  for (const auto& op : result.operations) {
    requests += op.requests() > 0 ? static_cast<double>(op.requests())
                                  : op.throughput_ops() * op.duration_s();
  }
  return static_cast<uint64_t>(requests) * 8;
}

uint64_t MeasuredBytes(const std::vector<v1::OperationResult>& operations) {
  double bytes = 0;
  for (const auto& op : operations) bytes += op.throughput_bytes() * op.duration_s();
  return static_cast<uint64_t>(bytes);
}

}  // namespace iommuvm::agent
