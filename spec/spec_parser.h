#pragma once
// ParseSpec: YAML text -> ExperimentSpec, with every problem reported at
// once as file:line:column errors. Never throws.

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "spec/matrix.h"
#include "spec/spec.h"
#include "spec/spec_error.h"

namespace iommuvm::spec {

struct ParseResult {
  std::optional<ExperimentSpec> spec;  // set only when errors is empty
  SpecErrors errors;
};

// `max_runs`: the most runs a spec may expand to (a controller's
// --max_runs_per_experiment); more is an error naming the axes that
// multiply. A stored spec is read again with no cap (UINT64_MAX): it was
// checked when submitted.
ParseResult ParseSpec(absl::string_view yaml_text, uint64_t max_runs = kMaxRunsPerExperiment);

}  // namespace iommuvm::spec
