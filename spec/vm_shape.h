#pragma once
// A guest configuration without its guest mode: what guests that differ
// only in guest_iommu share, so their runs compare mode against mode
// (`iommuvm compare` groups VM runs by it).

#include <string>

#include "spec/spec.h"

namespace iommuvm::spec {

// "intel cm=off ir=on iotlb=off aw=48, virtio, 1 vcpu, 1024 MiB, tcg" (plus
// the kernel when one is named).
std::string VmShape(const VmSpec& vm);

}  // namespace iommuvm::spec
