#include "agent/workload/redis_benchmark.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/workload/redis_benchmark_parser.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

std::vector<std::string> RedisBenchmark::CommandLine(const v1::RunLoad& load) const {
  std::vector<std::string> argv = {"redis-benchmark", "-h", load.target_host(), "-p",
                                   absl::StrCat(load.target_port())};
  std::vector<std::string> tests(load.tests().begin(), load.tests().end());
  if (!tests.empty()) argv.insert(argv.end(), {"-t", absl::StrJoin(tests, ",")});
  if (load.clients() > 0) argv.insert(argv.end(), {"-c", absl::StrCat(load.clients())});
  if (load.requests() > 0) argv.insert(argv.end(), {"-n", absl::StrCat(load.requests())});
  if (load.pipeline() > 1) argv.insert(argv.end(), {"-P", absl::StrCat(load.pipeline())});
  if (load.value_size() > 0) argv.insert(argv.end(), {"-d", absl::StrCat(load.value_size())});
  if (load.keyspace() > 0) argv.insert(argv.end(), {"-r", absl::StrCat(load.keyspace())});
  if (load.threads() > 0) argv.insert(argv.end(), {"--threads", absl::StrCat(load.threads())});
  // The default report: progress while running (streamed), then per test
  // a summary with avg/min/p50/p95/p99/max, the percentile distribution
  // (p90, p99.9) and the elapsed time.
  return argv;
}

absl::StatusOr<LoadResult> RedisBenchmark::Run(const v1::RunLoad& load,
                                               const std::string& run_dir,
                                               absl::Duration timeout,
                                               const std::atomic<bool>* cancel) {
  LoadResult result;
  result.tool = "redis-benchmark";
  RedisBenchmarkProgress progress([this](double rps) { ReportProgress(rps, env_.clock->Now()); });
  ASSIGN_OR_RETURN(CommandResult run,
                   RunTool(env_, CommandLine(load), run_dir, timeout, cancel, &result.raw_output,
                           [&progress](absl::string_view chunk) { progress.Feed(chunk); }));
  result.tool_version = ToolVersion(env_, {"redis-benchmark", "--version"});
  if (run.timed_out || run.cancelled) {
    // redis-benchmark retries a refused connection forever; the timeout is
    // what ends it, so say what it printed.
    return absl::DeadlineExceededError(run.Describe("redis-benchmark"));
  }
  if (!run.ok() && SaysTheConnectionFailed(result.raw_output)) {
    // The server went away mid-run (its node died, the link broke): an
    // outage, retried, not a broken setup.
    return absl::UnavailableError(run.Describe("redis-benchmark"));
  }
  auto parsed = ParseRedisBenchmark(result.raw_output);
  if (!parsed.ok()) return parsed.status();
  if (!run.ok()) return absl::FailedPreconditionError(run.Describe("redis-benchmark"));
  RETURN_IF_ERROR(RequireServedWithoutErrors(result.tool, *parsed));
  for (auto& op : *parsed) {
    if (op.requests() == 0) op.set_requests(load.requests());
    if (op.duration_s() <= 0) {
      op.set_duration_s(static_cast<double>(load.requests()) / op.throughput_ops());
    }
    op.set_throughput_bytes(op.throughput_ops() * load.value_size());
  }
  result.operations = std::move(*parsed);
  return result;
}

}  // namespace iommuvm::agent
