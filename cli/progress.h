#pragma once
// Live progress of an experiment: runs done / total, the current run,
// elapsed time and ETA, redrawn in place on a terminal, one line per
// change otherwise.

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "cli/commands.h"

namespace iommuvm::cli {

// One status line for a snapshot of `e`, `elapsed` after following began.
std::string ProgressLine(const v1::Experiment& e, absl::Duration elapsed);
// Follows the experiment until it ends; returns its final state, or
// nullopt after printing why following failed.
std::optional<v1::ExperimentState> FollowExperiment(Context& ctx,
                                            v1::ControllerService::StubInterface* stub,
                                            int64_t id);

}  // namespace iommuvm::cli
