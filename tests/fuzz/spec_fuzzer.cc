// libFuzzer target: arbitrary bytes as an experiment spec. The parser must
// never crash, hang or throw, and must either accept a spec or explain why
// with at least one error; an accepted spec must expand without trouble.
#include <cstddef>
#include <cstdint>
#include <string>

#include "iommu/cmdline.h"
#include "spec/matrix.h"
#include "spec/spec_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  iommuvm::spec::ParseResult r = iommuvm::spec::ParseSpec(text);
  if (r.spec.has_value() == !r.errors.empty()) __builtin_trap();
  if (r.spec) {
    // Bound the expansion so a legal but huge matrix does not time out.
    uint64_t points = r.spec->matrix.iommu.size() * r.spec->matrix.vm.size() *
                      r.spec->matrix.workload.size() * r.spec->repetitions;
    if (points <= 100000) (void)iommuvm::spec::ExpandMatrix(*r.spec);
  }
  (void)iommuvm::iommu::CheckCmdline(text);
  return 0;
}
