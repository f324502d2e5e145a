#include "spec/kernel_axis.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace iommuvm::spec {

std::string KernelOf(const RunPoint& p) {
  auto it = p.params.find(kKernelAxis);
  return it == p.params.end() ? "" : it->second;
}

KernelSpec ResolveKernel(const ExperimentSpec& spec, const std::string& name,
                         const std::string& stock_release) {
  KernelSpec k;
  if (auto it = spec.kernels.find(name); it != spec.kernels.end()) k = it->second;
  k.name = name;
  if (k.release.empty()) k.release = name == kStockKernel ? stock_release : name;
  if (k.image.empty() && !k.release.empty()) k.image = "/boot/vmlinuz-" + k.release;
  return k;
}

std::string CheckKernelToken(const std::string& token) {
  if (token.empty()) return "expected a kernel release such as 6.12.9-fns, found an empty string";
  for (char c : token) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '+' &&
        c != '~' && c != '-') {
      return absl::StrCat("'", token,
                          "' is not a kernel release: use letters, digits and . _ + ~ -");
    }
  }
  return "";
}

}  // namespace iommuvm::spec
