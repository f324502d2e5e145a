#pragma once
// sockperf ping-pong as a LoadGenerator: request/response over one TCP
// connection, the packaged stand-in for netperf TCP_RR. Round-trip
// latencies (--full-rtt where the version has it, doubled half round trips
// before 3.6), `message_size` bytes each way, paced at `rate` messages per
// second when given (--mps), pinned with `cores`.

#include "agent/workload/load_generator.h"

namespace iommuvm::agent {

class Sockperf final : public LoadGenerator {
 public:
  explicit Sockperf(const WorkloadEnv& env) : env_(env) {}
  std::vector<std::string> CommandLine(const v1::RunLoad& load) const override;
  uint32_t Threads(const v1::RunLoad&) const override { return 1; }
  absl::StatusOr<LoadResult> Run(const v1::RunLoad& load, const std::string& run_dir,
                                 absl::Duration timeout, const std::atomic<bool>* cancel) override;

  // Whether "sockperf, version 3.7-no.git" has --full-rtt (3.6 and later).
  static bool HasFullRtt(const std::string& version_line);

 private:
  std::vector<std::string> CommandLine(const v1::RunLoad& load, bool full_rtt) const;
  WorkloadEnv env_;
};

}  // namespace iommuvm::agent
