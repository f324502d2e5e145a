#pragma once
// wrk (closed loop) and wrk2 (open loop: -R holds a request rate and
// reports latencies corrected for coordinated omission) as LoadGenerators
// against nginx. A Lua done() hook prints the machine-readable result
// (wrk_parser.h); the script is written into the run directory.

#include "agent/workload/load_generator.h"

namespace iommuvm::agent {

class Wrk final : public LoadGenerator {
 public:
  Wrk(const WorkloadEnv& env, bool open_loop) : env_(env), open_loop_(open_loop) {}
  std::vector<std::string> CommandLine(const v1::RunLoad& load) const override;
  absl::StatusOr<LoadResult> Run(const v1::RunLoad& load, const std::string& run_dir,
                                 absl::Duration timeout,
                                 const std::atomic<bool>* cancel) override;

 private:
  std::string tool() const { return open_loop_ ? "wrk2" : "wrk"; }
  WorkloadEnv env_;
  bool open_loop_;
};

}  // namespace iommuvm::agent
