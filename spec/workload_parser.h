#pragma once
// Reads one `workloads.<name>` block and checks it against the workload
// catalog: server keys that fit the app, a tool that drives the app,
// generator keys that fit the tool, and how the run is bounded.

#include <yaml-cpp/yaml.h>

#include <string>

#include "spec/spec.h"
#include "spec/spec_error.h"

namespace iommuvm::spec {

void ReadWorkload(const YAML::Node& node, const std::string& path, SpecErrors* errors,
                  WorkloadSpec* out);

// "" when `cores` is a CPU list such as "0-3,8", else what is wrong.
std::string CheckCpuList(const std::string& cores);
// "" when `cores` is a CPU list, "auto" (the CPUs of the node's data NIC's
// NUMA node) or "auto:N" (N of them), else what is wrong.
std::string CheckCoresChoice(const std::string& cores);
// "" when `ratio` is "SETS:GETS" (e.g. "1:10"), else what is wrong.
std::string CheckRatio(const std::string& ratio);

}  // namespace iommuvm::spec
