// The kernel axis in a spec: parsing, errors, expansion and resolution.
#include "spec/kernel_axis.h"

#include <gtest/gtest.h>

#include "spec/matrix.h"
#include "spec/spec_parser.h"

namespace iommuvm::spec {
namespace {

constexpr char kSpec[] = R"(name: k
matrix:
  kernel: [stock, 6.12.9-fns, hwe]
  iommu: [strict, lazy]
  workload: [w]
  exclude:
    - {kernel: hwe, iommu: lazy}
  include:
    - {iommu: off, workload: w, vm: bare-metal}
kernels:
  hwe:
    release: 6.8.0-45-generic
    grub_entry: "Advanced options for Ubuntu>Ubuntu, with Linux 6.8.0-45-generic"
workloads:
  w:
    app: redis
    generator: {requests: 1000}
switch: {method: sysfs, fallback: [kexec]}
order: {repetitions_across_boots: false}
)";

std::vector<std::string> Errors(const ParseResult& r) {
  std::vector<std::string> lines;
  for (const auto& e : r.errors) lines.push_back(e.key_path + ": " + e.message);
  return lines;
}

TEST(KernelAxisTest, ExpandsKernelsOutermostWithTheirValuesAsAxis) {
  ParseResult r = ParseSpec(kSpec);
  ASSERT_TRUE(r.spec) << Errors(r)[0];
  EXPECT_EQ(r.spec->matrix.kernel, (std::vector<std::string>{"stock", "6.12.9-fns", "hwe"}));
  auto runs = ExpandMatrix(*r.spec);
  // 3 kernels x 2 modes - (hwe, lazy) + the included off point (first kernel).
  ASSERT_EQ(runs.size(), 6u);
  EXPECT_EQ(KernelOf(runs[0]), "stock");
  EXPECT_EQ(KernelOf(runs[2]), "6.12.9-fns");
  EXPECT_EQ(KernelOf(runs[4]), "hwe");
  EXPECT_EQ(runs[4].iommu, v1::IOMMU_MODE_STRICT);
  EXPECT_EQ(runs[5].iommu, v1::IOMMU_MODE_OFF);
  EXPECT_EQ(KernelOf(runs[5]), "stock");
  EXPECT_TRUE(Matches(runs[2], {{"kernel", "6.12.9-fns"}, {"iommu", "strict"}}));
}

TEST(KernelAxisTest, ResolvesEntriesInstalledReleasesAndStock) {
  ParseResult r = ParseSpec(kSpec);
  ASSERT_TRUE(r.spec);
  KernelSpec hwe = ResolveKernel(*r.spec, "hwe", "6.1.0-26-amd64");
  EXPECT_EQ(hwe.release, "6.8.0-45-generic");
  EXPECT_EQ(hwe.image, "/boot/vmlinuz-6.8.0-45-generic");
  EXPECT_EQ(hwe.grub_entry, "Advanced options for Ubuntu>Ubuntu, with Linux 6.8.0-45-generic");
  KernelSpec fns = ResolveKernel(*r.spec, "6.12.9-fns", "6.1.0-26-amd64");
  EXPECT_EQ(fns.release, "6.12.9-fns");
  EXPECT_EQ(fns.image, "/boot/vmlinuz-6.12.9-fns");
  EXPECT_EQ(fns.initrd, "");  // the agent looks for /boot/initrd.img-6.12.9-fns
  KernelSpec stock = ResolveKernel(*r.spec, "stock", "6.1.0-26-amd64");
  EXPECT_EQ(stock.release, "6.1.0-26-amd64");
  EXPECT_EQ(stock.image, "/boot/vmlinuz-6.1.0-26-amd64");
  RunPoint no_axis;
  EXPECT_EQ(KernelOf(no_axis), "");
}

TEST(KernelAxisTest, ErrorsNameTheKeyAndTheFix) {
  std::string yaml = kSpec;
  yaml.replace(yaml.find("[stock, 6.12.9-fns, hwe]"), 24, "[stock, 'bad kernel', stock]");
  yaml.replace(yaml.find("  hwe:\n"), 7,
               "  stock:\n    image: boot/x\n  hwe:\n    image: boot/x\n");
  yaml.replace(yaml.find("switch: {method: sysfs, fallback: [kexec]}"), 42, "switch: sysfs");
  yaml.replace(yaml.find("    - {kernel: hwe, iommu: lazy}\n"), 35, "");
  ParseResult r = ParseSpec(yaml);
  ASSERT_FALSE(r.spec);
  std::vector<std::string> e = Errors(r);
  auto has = [&](const std::string& text) {
    for (const auto& line : e) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("matrix.kernel[1]: 'bad kernel' is not a kernel release")) << e[0];
  EXPECT_TRUE(has("matrix.kernel[2]: 'stock' is listed twice"));
  EXPECT_TRUE(has("kernels.stock: 'stock' is reserved"));
  EXPECT_TRUE(has("kernels.hwe.image: expected an absolute path"));
  EXPECT_TRUE(has("switch: the kernel axis boots other kernels, but sysfs switches in place"));
}

TEST(KernelAxisTest, ClientModeParsesAndNeedsAMethodThatReboots) {
  constexpr char kClient[] = R"(name: c
matrix: {workload: [w]}
workloads:
  w: {app: redis, generator: {requests: 1000}}
nodes: {client_iommu: passthrough}
)";
  ParseResult r = ParseSpec(kClient);
  ASSERT_TRUE(r.spec) << Errors(r)[0];
  EXPECT_EQ(r.spec->nodes.client_iommu, v1::IOMMU_MODE_PASSTHROUGH);
  ParseResult sysfs = ParseSpec(std::string(kClient) + "switch: sysfs\n");
  ASSERT_FALSE(sysfs.spec);
  EXPECT_EQ(Errors(sysfs)[0],
            "switch: nodes.client_iommu switches clients with a new boot, but sysfs switches in "
            "place; add fallback: [kexec] (or grub)");
}

}  // namespace
}  // namespace iommuvm::spec
