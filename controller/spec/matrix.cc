#include "controller/spec/matrix.h"

namespace iommuvm::spec {

std::vector<RunPoint> ExpandMatrix(const ExperimentSpec& spec) {
  std::vector<RunPoint> runs;
  runs.reserve(spec.matrix.iommu.size() * spec.matrix.vm.size() *
               spec.matrix.workload.size() * spec.repetitions);
  for (v1::IommuMode mode : spec.matrix.iommu) {
    for (const auto& vm : spec.matrix.vm) {
      for (const auto& workload : spec.matrix.workload) {
        for (uint32_t rep = 1; rep <= spec.repetitions; ++rep) {
          RunPoint p;
          p.index = static_cast<uint32_t>(runs.size());
          p.iommu = mode;
          p.workload = workload;
          p.vm = vm;
          p.repetition = rep;
          runs.push_back(std::move(p));
        }
      }
    }
  }
  return runs;
}

}  // namespace iommuvm::spec
