#include "agent/workload/wrk.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "agent/workload/wrk_parser.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

std::vector<std::string> Wrk::CommandLine(const v1::RunLoad& load) const {
  // wrk needs at least as many connections as threads (ConcurrencyOf).
  auto [clients, threads] = ConcurrencyOf(load);
  uint32_t seconds = DurationSeconds(load);
  std::vector<std::string> argv = {tool(),
                                   "-t", absl::StrCat(threads),
                                   "-c", absl::StrCat(clients),
                                   "-d", absl::StrCat(seconds, "s"),
                                   "--latency",
                                   "-s", "report.lua"};
  if (open_loop_) argv.insert(argv.end(), {"-R", absl::StrCat(load.rate())});
  argv.push_back(absl::StrCat("http://", load.target_host(), ":", load.target_port(), "/file-",
                              load.file_size()));
  return argv;
}

absl::StatusOr<LoadResult> Wrk::Run(const v1::RunLoad& load, const std::string& run_dir,
                                    absl::Duration timeout, const std::atomic<bool>* cancel) {
  LoadResult result;
  result.tool = tool();
  RETURN_IF_ERROR(env_.files->WriteFile(run_dir + "/report.lua", WrkReportScript()));
  ASSIGN_OR_RETURN(CommandResult run,
                   RunTool(env_, CommandLine(load), run_dir, timeout, cancel, &result.raw_output));
  result.tool_version = ToolVersion(env_, {tool(), "-v"});
  if (run.timed_out || run.cancelled) return absl::DeadlineExceededError(run.Describe(tool()));
  auto parsed = ParseWrk(result.raw_output);
  if (!parsed.ok()) return parsed.status();
  result.operations.push_back(std::move(*parsed));
  result.payload_bytes = MeasuredBytes(result.operations);
  RETURN_IF_ERROR(RequireServedWithoutErrors(tool(), result.operations));
  return result;
}

}  // namespace iommuvm::agent
