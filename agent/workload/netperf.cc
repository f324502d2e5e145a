#include "agent/workload/netperf.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/workload/netperf_parser.h"
#include "common/cpu_list.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

std::vector<std::string> Netperf::CommandLine(const v1::RunLoad& load) const {
  uint32_t size = MessageSize(load);
  // Global options, then the test's after "--": -P 0 drops the banner, -j
  // keeps the latency statistics the selectors ask for.
  std::vector<std::string> argv = {"netperf",
                                   "-H",
                                   load.target_host(),
                                   "-p",
                                   absl::StrCat(load.target_port()),
                                   "-t",
                                   "TCP_RR",
                                   "-l",
                                   absl::StrCat(DurationSeconds(load)),
                                   "-j",
                                   "-P",
                                   "0",
                                   "--",
                                   "-r",
                                   absl::StrCat(size, ",", size),
                                   "-k",
                                   absl::StrJoin(NetperfSelectors(), ",")};
  return PinnedCommand(load.cores(), std::move(argv));
}

absl::StatusOr<LoadResult> Netperf::Run(const v1::RunLoad& load, const std::string& run_dir,
                                        absl::Duration timeout, const std::atomic<bool>* cancel) {
  LoadResult result;
  result.tool = "netperf";
  result.tool_version = ToolVersion(env_, {"netperf", "-V"});
  ASSIGN_OR_RETURN(CommandResult run,
                   RunTool(env_, CommandLine(load), run_dir, timeout, cancel, &result.raw_output));
  if (run.timed_out || run.cancelled) return absl::DeadlineExceededError(run.Describe("netperf"));
  ASSIGN_OR_RETURN(v1::OperationResult op, ParseNetperf(result.raw_output));
  result.operations.push_back(std::move(op));
  result.payload_bytes = MeasuredBytes(result.operations);
  return result;
}

}  // namespace iommuvm::agent
