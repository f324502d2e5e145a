#pragma once
// memtier_benchmark as a LoadGenerator against redis (RESP) or memcached
// (text protocol): threads × clients per thread, bounded by requests or
// test time, set:get ratio, pipeline, value size and the key range the
// server was preloaded with ("memtier-N"). Results come from its JSON file
// (memtier_parser.h); live throughput from its stderr progress line.

#include "agent/workload/load_generator.h"

namespace iommuvm::agent {

class MemtierBenchmark final : public LoadGenerator {
 public:
  explicit MemtierBenchmark(const WorkloadEnv& env) : env_(env) {}
  std::vector<std::string> CommandLine(const v1::RunLoad& load) const override;
  absl::StatusOr<LoadResult> Run(const v1::RunLoad& load, const std::string& run_dir,
                                 absl::Duration timeout,
                                 const std::atomic<bool>* cancel) override;

  static constexpr char kJsonFile[] = "memtier.json";

 private:
  WorkloadEnv env_;
};

}  // namespace iommuvm::agent
