#include "agent/workload/memcaslap.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "agent/workload/memcaslap_parser.h"
#include "common/status_macros.h"

namespace iommuvm::agent {

std::string Memcaslap::Config(const v1::RunLoad& load) {
  uint32_t sets = 1, gets = 10;
  std::vector<std::string> parts = absl::StrSplit(load.ratio().empty() ? "1:10" : load.ratio(), ':');
  if (parts.size() == 2) {
    (void)absl::SimpleAtoi(parts[0], &sets);
    (void)absl::SimpleAtoi(parts[1], &gets);
  }
  double total = std::max<double>(1, sets + gets);
  uint32_t value = std::max<uint32_t>(1, load.value_size());
  // key: min max proportion; value: min max proportion; cmd: type proportion.
  return absl::StrFormat(
      "# written by iommuvm-agent\nkey\n16 16 1\nvalue\n%u %u 1\ncmd\n0 %.4f\n1 %.4f\n", value,
      value, sets / total, gets / total);
}

std::vector<std::string> Memcaslap::CommandLine(const v1::RunLoad& load) const {
  auto [clients, threads] = ConcurrencyOf(load);
  // memcaslap wants concurrency to be a multiple of threads.
  clients -= clients % threads;
  std::vector<std::string> argv = {"memcaslap",
                                   "-s", absl::StrCat(load.target_host(), ":", load.target_port()),
                                   "-T", absl::StrCat(threads),
                                   "-c", absl::StrCat(clients),
                                   "-F", "memcaslap.cfg"};
  // -S: periodic tables every stat interval (progress), and the final
  // per-operation distributions the parser reads.
  int64_t stat_s = wants_progress() ? std::max<int64_t>(1, absl::ToInt64Seconds(progress_interval_)) : 0;
  if (load.duration_ms() > 0) {
    uint32_t seconds = DurationSeconds(load);
    argv.insert(argv.end(), {"-t", absl::StrCat(seconds, "s"), "-S",
                             absl::StrCat(stat_s > 0 ? stat_s : seconds, "s")});
  } else {
    argv.insert(argv.end(), {"-x", absl::StrCat(std::max<uint64_t>(1, load.requests())), "-S",
                             absl::StrCat(stat_s > 0 ? stat_s : 3600, "s")});
  }
  return argv;
}

absl::StatusOr<LoadResult> Memcaslap::Run(const v1::RunLoad& load, const std::string& run_dir,
                                          absl::Duration timeout,
                                          const std::atomic<bool>* cancel) {
  LoadResult result;
  result.tool = "memcaslap";
  RETURN_IF_ERROR(env_.files->WriteFile(run_dir + "/memcaslap.cfg", Config(load)));
  MemcaslapProgress progress([this](double tps) { ReportProgress(tps, env_.clock->Now()); });
  ASSIGN_OR_RETURN(CommandResult run,
                   RunTool(env_, CommandLine(load), run_dir, timeout, cancel, &result.raw_output,
                           [&progress](absl::string_view chunk) { progress.Feed(chunk); }));
  result.tool_version = ToolVersion(env_, {"memcaslap", "--version"});
  if (run.timed_out || run.cancelled) return absl::DeadlineExceededError(run.Describe("memcaslap"));
  auto parsed = ParseMemcaslap(result.raw_output);
  if (!parsed.ok()) {
    if (!run.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(run.Describe("memcaslap"), "; ", parsed.status().message()));
    }
    return parsed.status();
  }
  RETURN_IF_ERROR(RequireServedWithoutErrors(result.tool, *parsed));
  for (auto& op : *parsed) op.set_throughput_bytes(op.throughput_ops() * load.value_size());
  result.operations = std::move(*parsed);
  return result;
}

}  // namespace iommuvm::agent
