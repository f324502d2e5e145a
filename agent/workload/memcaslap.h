#pragma once
// memcaslap (libmemcached-tools' memaslap) as a LoadGenerator against
// memcached: concurrency, threads, value size and the set:get ratio (a -F
// config file written into the run directory), bounded by -t or -x.

#include "agent/workload/load_generator.h"

namespace iommuvm::agent {

class Memcaslap final : public LoadGenerator {
 public:
  explicit Memcaslap(const WorkloadEnv& env) : env_(env) {}
  std::vector<std::string> CommandLine(const v1::RunLoad& load) const override;
  absl::StatusOr<LoadResult> Run(const v1::RunLoad& load, const std::string& run_dir,
                                 absl::Duration timeout,
                                 const std::atomic<bool>* cancel) override;

  // The -F config for `load`'s value size and set:get ratio.
  static std::string Config(const v1::RunLoad& load);

 private:
  WorkloadEnv env_;
};

}  // namespace iommuvm::agent
