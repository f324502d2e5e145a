#include "spec/vm_shape.h"

#include "absl/strings/str_cat.h"

namespace iommuvm::spec {

std::string VmShape(const VmSpec& vm) {
  auto on_off = [](bool b) { return b ? "on" : "off"; };
  std::string viommu = vm.viommu;
  if (vm.viommu == "intel") {
    absl::StrAppend(&viommu, " cm=", on_off(vm.caching_mode), " ir=", on_off(vm.intremap),
                    " iotlb=", on_off(vm.device_iotlb), " aw=", vm.aw_bits);
  } else if (vm.viommu == "amd") {
    absl::StrAppend(&viommu, " ir=", on_off(vm.intremap));
  }
  std::string shape = absl::StrCat(viommu, ", ", vm.nic, ", ", vm.vcpus, vm.vcpus == 1 ? " vcpu, " : " vcpus, ",
                                   vm.memory_bytes >> 20, " MiB, ", vm.accel);
  if (!vm.kernel.empty()) absl::StrAppend(&shape, ", ", vm.kernel);
  return shape;
}

}  // namespace iommuvm::spec
