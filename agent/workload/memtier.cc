#include "agent/workload/memtier.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "agent/workload/memtier_parser.h"
#include "common/file_system.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

std::vector<std::string> MemtierBenchmark::CommandLine(const v1::RunLoad& load) const {
  // --clients is per thread: the spec's total is split over the threads.
  auto [clients, threads] = ConcurrencyOf(load);
  uint32_t per_thread = clients / threads;
  std::vector<std::string> argv = {
      "memtier_benchmark",
      absl::StrCat("--server=", load.target_host()),
      absl::StrCat("--port=", load.target_port()),
      absl::StrCat("--protocol=", load.app() == "memcached" ? "memcache_text" : "redis"),
      absl::StrCat("--threads=", threads),
      absl::StrCat("--clients=", per_thread),
      absl::StrCat("--ratio=", load.ratio().empty() ? "1:10" : load.ratio()),
      absl::StrCat("--pipeline=", std::max<uint32_t>(1, load.pipeline())),
      absl::StrCat("--data-size=", std::max<uint32_t>(1, load.value_size())),
      // The keys the server was preloaded with (StartServer "memtier-%d").
      "--key-prefix=memtier-",
      "--key-pattern=R:R",
      "--distinct-client-seed",
      "--hide-histogram",
      "--print-percentiles=50,90,95,99,99.9",
      absl::StrCat("--json-out-file=", kJsonFile)};
  if (load.keyspace() > 0) {
    argv.insert(argv.end(), {"--key-minimum=0",
                             absl::StrCat("--key-maximum=",
                                          std::max<uint64_t>(1, load.keyspace() - 1))});
  }
  if (load.duration_ms() > 0) {
    argv.push_back(absl::StrCat("--test-time=", DurationSeconds(load)));
  } else {
    // --requests is per client.
    uint64_t connections = uint64_t{threads} * per_thread;
    argv.push_back(absl::StrCat(
        "--requests=", std::max<uint64_t>(1, (load.requests() + connections - 1) / connections)));
  }
  return argv;
}

absl::StatusOr<LoadResult> MemtierBenchmark::Run(const v1::RunLoad& load,
                                                 const std::string& run_dir,
                                                 absl::Duration timeout,
                                                 const std::atomic<bool>* cancel) {
  LoadResult result;
  result.tool = "memtier_benchmark";
  std::string json_path = absl::StrCat(run_dir, "/", kJsonFile);
  LocalFileSystem fs;
  (void)fs.RemoveAll(json_path);  // never read an earlier run's file
  MemtierProgress progress([this](double ops) { ReportProgress(ops, env_.clock->Now()); });
  ASSIGN_OR_RETURN(CommandResult run,
                   RunTool(env_, CommandLine(load), run_dir, timeout, cancel, &result.raw_output,
                           {}, [&progress](absl::string_view chunk) { progress.Feed(chunk); }));
  result.tool_version = ToolVersion(env_, {"memtier_benchmark", "--version"});
  if (run.timed_out || run.cancelled) {
    return absl::DeadlineExceededError(run.Describe("memtier_benchmark"));
  }
  if (!run.ok()) return absl::FailedPreconditionError(run.Describe("memtier_benchmark"));
  auto json = fs.ReadFile(json_path);
  if (!json.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "memtier_benchmark wrote no ", kJsonFile, " (", json.status().message(), "); ",
        run.Describe("memtier_benchmark")));
  }
  ASSIGN_OR_RETURN(MemtierReport report, ParseMemtierJson(*json));
  if (report.interrupted) {
    return absl::FailedPreconditionError("memtier_benchmark stopped before the full run");
  }
  if (!report.errors.empty()) {
    return absl::UnavailableError(  // connection errors: the network, transient
        absl::StrCat("memtier_benchmark saw ", DescribeErrors(report.errors)));
  }
  RETURN_IF_ERROR(RequireServedWithoutErrors(result.tool, report.operations));
  result.operations = std::move(report.operations);
  result.payload_bytes = MeasuredBytes(result.operations);
  return result;
}

}  // namespace iommuvm::agent
