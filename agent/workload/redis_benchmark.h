#pragma once
// redis-benchmark as a LoadGenerator: its default report (progress while
// it runs, then a summary and percentile distribution per test), one
// result per test.

#include "agent/workload/load_generator.h"

namespace iommuvm::agent {

class RedisBenchmark final : public LoadGenerator {
 public:
  explicit RedisBenchmark(const WorkloadEnv& env) : env_(env) {}
  std::vector<std::string> CommandLine(const v1::RunLoad& load) const override;
  // One event loop unless --threads (redis-benchmark 6 and later).
  uint32_t Threads(const v1::RunLoad& load) const override {
    return load.threads() > 0 ? load.threads() : 1;
  }
  absl::StatusOr<LoadResult> Run(const v1::RunLoad& load, const std::string& run_dir,
                                 absl::Duration timeout,
                                 const std::atomic<bool>* cancel) override;

 private:
  WorkloadEnv env_;
};

}  // namespace iommuvm::agent
