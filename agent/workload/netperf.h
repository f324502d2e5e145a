#pragma once
// netperf TCP_RR as a LoadGenerator, where a node has netperf (it is not a
// Debian 12 package; Ubuntu packages 2.7.0): request/response
// transactions over one TCP connection against `netserver`,
// `message_size` bytes each way, with its latency statistics (-j) in
// keyword output (netperf_parser.h), pinned with `cores`.

#include "agent/workload/load_generator.h"

namespace iommuvm::agent {

class Netperf final : public LoadGenerator {
 public:
  explicit Netperf(const WorkloadEnv& env) : env_(env) {}
  std::vector<std::string> CommandLine(const v1::RunLoad& load) const override;
  uint32_t Threads(const v1::RunLoad&) const override { return 1; }
  absl::StatusOr<LoadResult> Run(const v1::RunLoad& load, const std::string& run_dir,
                                 absl::Duration timeout, const std::atomic<bool>* cancel) override;

 private:
  WorkloadEnv env_;
};

}  // namespace iommuvm::agent
