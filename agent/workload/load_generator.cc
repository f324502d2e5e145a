#include "agent/workload/load_generator.h"

#include "absl/strings/str_cat.h"
#include <fstream>

#include "absl/strings/ascii.h"
#include "agent/workload/memcaslap.h"
#include "agent/workload/redis_benchmark.h"
#include "agent/workload/wrk.h"

namespace iommuvm::agent {

absl::StatusOr<CommandResult> RunTool(CommandRunner* runner, std::vector<std::string> argv,
                                      const std::string& run_dir, absl::Duration timeout,
                                      const std::atomic<bool>* cancel, std::string* raw_output,
                                      std::function<void(absl::string_view)> on_stdout) {
  CommandSpec spec;
  spec.on_stdout = std::move(on_stdout);
  std::string tool = argv[0];
  spec.argv = std::move(argv);
  spec.cwd = run_dir;
  spec.timeout = timeout;
  spec.cancel = cancel;
  auto run = runner->Run(spec);
  if (!run.ok()) return run.status();
  *raw_output = run->out + run->err;
  std::ofstream(run_dir + "/" + tool + ".out") << *raw_output;
  return run;
}

std::string ToolVersion(CommandRunner* runner, std::vector<std::string> argv) {
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = absl::Seconds(5);
  auto r = runner->Run(spec);
  if (!r.ok()) return "";
  std::string text(absl::StripAsciiWhitespace(r->out.empty() ? r->err : r->out));
  return text.substr(0, text.find('\n'));
}

absl::StatusOr<std::unique_ptr<LoadGenerator>> MakeLoadGenerator(const std::string& tool,
                                                                 CommandRunner* runner) {
  if (tool == "redis-benchmark") return std::unique_ptr<LoadGenerator>(new RedisBenchmark(runner));
  if (tool == "memcaslap") return std::unique_ptr<LoadGenerator>(new Memcaslap(runner));
  if (tool == "wrk") return std::unique_ptr<LoadGenerator>(new Wrk(runner, /*open_loop=*/false));
  if (tool == "wrk2") return std::unique_ptr<LoadGenerator>(new Wrk(runner, /*open_loop=*/true));
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown load generator '", tool, "'; known: redis-benchmark, memcaslap, wrk, wrk2"));
}

}  // namespace iommuvm::agent
