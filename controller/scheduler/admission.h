#pragma once
// Checks a valid spec against what this controller knows about its nodes,
// at submit time, before anything is stored: explicit pairs must name
// registered agents with the right roles (a typo in a node name is caught
// now, not after the experiment has waited a night for a node that will
// never come), and every registered node that may run the experiment must
// have the servers and load generators it asks for — refused now, naming
// the node and the tool, not discovered an hour into the experiment.
// Errors are located in the file like parse errors.

#include <string>
#include <vector>

#include "controller/store/store.h"
#include "spec/spec.h"
#include "spec/spec_error.h"

namespace iommuvm::scheduler {

spec::SpecErrors CheckAgainstNodes(const std::string& yaml, const spec::ExperimentSpec& spec,
                                   const std::vector<store::NodeRecord>& nodes);

// Warnings, not errors: a workload's explicit server cores that span two
// NUMA nodes, or lie on another node than the data NIC, on a server node
// that may run it (from its registered inventory). `cores: auto` avoids
// both.
spec::SpecErrors NumaWarnings(const std::string& yaml, const spec::ExperimentSpec& spec,
                              const std::vector<store::NodeRecord>& nodes);

}  // namespace iommuvm::scheduler
