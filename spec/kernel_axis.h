#pragma once
// The kernel axis (`matrix.kernel`, `kernels:`): which kernel a run's
// server node must run, and where its image is. A run's kernel is kept
// with its other axis values (RunPoint.params["kernel"]), so results,
// compare, exclude/include and `rerun --cell` treat it like any axis.

#include <string>

#include "spec/spec.h"

namespace iommuvm::spec {

inline constexpr char kKernelAxis[] = "kernel";
// The kernel a node ran when its agent first started: what it boots by
// default, and what a power cycle brings back.
inline constexpr char kStockKernel[] = "stock";

// The run's kernel name; "" when the matrix has no kernel axis (the node
// is measured in whatever kernel it runs).
std::string KernelOf(const RunPoint& p);

// The kernel `name` on a node whose stock kernel is `stock_release`: its
// `kernels` entry, or an installed release (/boot/vmlinuz-<name>,
// /boot/initrd.img-<name>). Stock's release is the node's.
KernelSpec ResolveKernel(const ExperimentSpec& spec, const std::string& name,
                         const std::string& stock_release);

// Why `token` cannot be a kernel name or release ("" when it can): one
// word of letters, digits and . _ + ~ - (Debian's "6.12.107+deb12-amd64").
std::string CheckKernelToken(const std::string& token);

}  // namespace iommuvm::spec
