#pragma once
// Store records -> public API messages.

#include <grpcpp/support/status.h>

#include <map>
#include <vector>

#include "absl/status/status.h"
#include "controller/scheduler/scheduler.h"
#include "controller/store/store.h"
#include "iommuvm/v1/controller.pb.h"

namespace iommuvm::service {

// The API status of a controller status (same code and message).
grpc::Status ToGrpc(const absl::Status& s);

// The experiment with its run counts (by state), no runs.
v1::Experiment ToProto(const store::ExperimentRecord& e,
                       const std::map<store::RunState, int64_t>& counts);
// Appends `runs` to `out`, each with its latest attempt among `attempts`
// (the evidence that attempt was read with) and its attempt count.
void AddRuns(const std::vector<store::RunRecord>& runs,
             const std::vector<store::AttemptRecord>& attempts, v1::Experiment* out);
v1::Agent ToProto(const scheduler::AgentView& a);
// One row per run and measured operation; runs without results get one row.
// Its attempts need the evidence of store::kResultEvidenceKeys only
// (Store::RunsForResults).
std::vector<v1::ResultRow> ToResultRows(const std::vector<store::RunRecord>& runs,
                                        const std::vector<store::AttemptRecord>& attempts,
                                        const std::vector<store::ResultRecord>& results,
                                        store::Store* store);

}  // namespace iommuvm::service
