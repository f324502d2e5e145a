#include "agent/workload/sockperf.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/workload/sockperf_parser.h"
#include "common/cpu_list.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

bool Sockperf::HasFullRtt(const std::string& version_line) {
  size_t at = version_line.find("version ");
  if (at == std::string::npos) return true;  // unknown: assume a current sockperf
  std::vector<std::string> parts =
      absl::StrSplit(version_line.substr(at + 8), absl::ByAnyChar(".-"));
  int major = 0, minor = 0;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &major) ||
      !absl::SimpleAtoi(parts[1], &minor)) {
    return true;
  }
  return major > 3 || (major == 3 && minor >= 6);
}

std::vector<std::string> Sockperf::CommandLine(const v1::RunLoad& load, bool full_rtt) const {
  std::vector<std::string> argv = {"sockperf",
                                   "ping-pong",
                                   "--tcp",
                                   "-i",
                                   load.target_host(),
                                   "-p",
                                   absl::StrCat(load.target_port()),
                                   "-t",
                                   absl::StrCat(DurationSeconds(load)),
                                   "-m",
                                   absl::StrCat(MessageSize(load))};
  if (full_rtt) argv.push_back("--full-rtt");
  if (load.rate() > 0) argv.push_back(absl::StrCat("--mps=", load.rate()));
  return PinnedCommand(load.cores(), std::move(argv));
}

std::vector<std::string> Sockperf::CommandLine(const v1::RunLoad& load) const {
  return CommandLine(load, /*full_rtt=*/true);
}

absl::StatusOr<LoadResult> Sockperf::Run(const v1::RunLoad& load, const std::string& run_dir,
                                         absl::Duration timeout, const std::atomic<bool>* cancel) {
  LoadResult result;
  result.tool = "sockperf";
  result.tool_version = ToolVersion(env_, {"sockperf", "--version"});
  ASSIGN_OR_RETURN(CommandResult run,
                   RunTool(env_, CommandLine(load, HasFullRtt(result.tool_version)), run_dir,
                           timeout, cancel, &result.raw_output));
  if (run.timed_out || run.cancelled) return absl::DeadlineExceededError(run.Describe("sockperf"));
  ASSIGN_OR_RETURN(v1::OperationResult op, ParseSockperf(result.raw_output, MessageSize(load)));
  result.operations.push_back(std::move(op));
  result.payload_bytes = MeasuredBytes(result.operations);
  RETURN_IF_ERROR(RequireServedWithoutErrors("sockperf", result.operations));
  return result;
}

}  // namespace iommuvm::agent
