#pragma once
// A result row as the controller's results view returns it, for the
// comparison and report tests.

#include <string>

#include "iommuvm/v1/controller.pb.h"

namespace iommuvm::results {

inline v1::ResultRow Row(v1::IommuMode mode, const std::string& workload, const std::string& op,
                         double ops, v1::RunState state = v1::RUN_STATE_SUCCEEDED) {
  v1::ResultRow r;
  r.set_iommu(mode);
  r.set_workload(workload);
  r.set_vm("bare-metal");
  r.set_state(state);
  r.mutable_result()->set_operation(op);
  r.mutable_result()->set_throughput_ops(ops);
  r.mutable_result()->set_latency_p99_us(1e6 / ops);
  return r;
}

}  // namespace iommuvm::results
