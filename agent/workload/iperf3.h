#pragma once
// iperf3 as a LoadGenerator: `flows` client processes at once, flow i to
// target_port + i (its own `iperf3 -s`), pinned to the i-th core of
// `cores`; congestion control (-C), socket buffer (-w) and write size (-l)
// from the step. The warm-up is iperf3's own --omit, so each flow's
// connection stays up from warm-up into the measured interval and only the
// measured interval counts. Reports bytes per second per flow ("flow-0",
// ...) and in total ("total"); iperf3 has no requests, so no ops/s.

#include "agent/workload/load_generator.h"

namespace iommuvm::agent {

class Iperf3 final : public LoadGenerator {
 public:
  explicit Iperf3(const WorkloadEnv& env) : env_(env) {}
  bool WarmsUpItself() const override { return true; }
  // One process per flow, each one thread for its one stream.
  uint32_t Threads(const v1::RunLoad& load) const override {
    return load.flows() > 0 ? load.flows() : 1;
  }
  std::vector<std::string> CommandLine(const v1::RunLoad& load) const override;
  absl::StatusOr<LoadResult> Run(const v1::RunLoad& load, const std::string& run_dir,
                                 absl::Duration timeout, const std::atomic<bool>* cancel) override;
  // The command line of flow `index` (CommandLine is flow 0's).
  std::vector<std::string> FlowCommandLine(const v1::RunLoad& load, uint32_t index) const;

 private:
  WorkloadEnv env_;
};

}  // namespace iommuvm::agent
