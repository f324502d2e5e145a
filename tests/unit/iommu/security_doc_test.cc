// docs/security.md lists the parameters agents write and refuse: it must
// stay true of iommu/cmdline.cc.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "iommu/cmdline.h"

namespace iommuvm::iommu {
namespace {

TEST(SecurityDocTest, ListsEveryBenchmarkAndRefusedParameter) {
  std::ifstream in(std::string(IOMMUVM_SOURCE_DIR) + "/docs/security.md");
  std::stringstream doc;
  doc << in.rdbuf();
  ASSERT_FALSE(doc.str().empty());
  for (const auto* list : {&BenchmarkParameters(), &RefusedParameters()}) {
    for (const std::string& p : *list) {
      EXPECT_NE(doc.str().find("`" + p + "`"), std::string::npos)
          << p << " is not in docs/security.md";
    }
  }
}

}  // namespace
}  // namespace iommuvm::iommu
