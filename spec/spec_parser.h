#pragma once
// ParseSpec: YAML text -> ExperimentSpec, with every problem reported at
// once as file:line:column errors. Never throws.

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "spec/spec.h"
#include "spec/spec_error.h"

namespace iommuvm::spec {

struct ParseResult {
  std::optional<ExperimentSpec> spec;  // set only when errors is empty
  SpecErrors errors;
};

ParseResult ParseSpec(absl::string_view yaml_text);

}  // namespace iommuvm::spec
