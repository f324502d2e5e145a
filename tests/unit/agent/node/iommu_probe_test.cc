
#include "agent/node/iommu_probe.h"

#include <gtest/gtest.h>

#include "agent/node/inventory.h"
#include "common/file_system.h"
#include "tests/support/sysroot_builder.h"
#include "tests/unit/agent/node/node_test_support.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::SysrootBuilder;

IommuProbe Probe(const SysrootBuilder& b, const std::string& log = "",
                 const std::string& nic = "") {
  LocalFileSystem fs(b.root());
  return ProbeIommu(fs, log, !log.empty(), nic);
}

TEST(IommuProbeTest, EachModeOnIntelAndAmd) {
  struct ModeCase {
    const char* vendor_unit;
    const char* cmdline;
    const char* type;
    const char* detected;
    v1::IommuMode requested;
  };

  const ModeCase cases[] = {
      {"dmar0", "intel_iommu=on iommu=pt", "identity", "passthrough", v1::IOMMU_MODE_PASSTHROUGH},
      {"dmar0", "intel_iommu=on iommu.strict=0", "DMA-FQ", "lazy", v1::IOMMU_MODE_LAZY},
      {"dmar0", "intel_iommu=on iommu.strict=1", "DMA", "strict", v1::IOMMU_MODE_STRICT},
      {"ivhd0", "iommu=pt", "identity", "passthrough", v1::IOMMU_MODE_PASSTHROUGH},
      {"ivhd0", "iommu.strict=0", "DMA-FQ", "lazy", v1::IOMMU_MODE_LAZY},
      {"ivhd0", "iommu.strict=1", "DMA", "strict", v1::IOMMU_MODE_STRICT},
  };
  for (const ModeCase& c : cases) {
    SCOPED_TRACE(std::string(c.vendor_unit) + " " + c.cmdline);
    SysrootBuilder b;
    Node(b, std::string("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ") + c.cmdline, c.vendor_unit, c.type);
    IommuProbe p = Probe(b);
    EXPECT_EQ(p.requested, c.requested);
    EXPECT_EQ(p.detected, c.detected);
    EXPECT_EQ(p.data_nic.name, "enp202s0f0np0");  // the only PCI NIC
    EXPECT_EQ(p.data_group, "14");
    EXPECT_EQ(p.data_mode, c.detected);
    EXPECT_EQ(CheckMode(p, c.requested), "");
    EXPECT_EQ(p.iommu_units, std::vector<std::string>{c.vendor_unit});
  }
}

TEST(IommuProbeTest, OffHasNoUnitsAndNoGroups) {
  for (const char* cmdline : {"intel_iommu=off", "amd_iommu=off"}) {
    SysrootBuilder b;
    b.Cmdline(cmdline).Device("0000:ca:00.0", "mlx5_core", "", "").Nic("eth2", "0000:ca:00.0");
    IommuProbe p = Probe(b, "[    0.000000] DMAR: IOMMU disabled\n");
    EXPECT_EQ(p.detected, "off");
    EXPECT_EQ(p.requested, v1::IOMMU_MODE_OFF);
    EXPECT_EQ(CheckMode(p, v1::IOMMU_MODE_OFF), "");
    EXPECT_EQ(CheckMode(p, v1::IOMMU_MODE_STRICT),
              "requested strict, but the IOMMU is off (no IOMMU units or groups)");
    EXPECT_TRUE(p.kernel_log.iommu_disabled);
  }
}

// sysfs switching retypes only the data-plane NIC's group: the node is
// "mixed", and the attempt is judged by the NIC's group.
TEST(IommuProbeTest, NicGroupDiffersFromTheRest) {
  SysrootBuilder b;
  Node(b, "intel_iommu=on iommu.strict=1", "dmar0", "DMA");
  b.File("/sys/kernel/iommu_groups/14/type", "identity\n");
  IommuProbe p = Probe(b, kIntelLog);
  EXPECT_EQ(p.detected, "mixed");
  EXPECT_EQ(p.data_mode, "passthrough");
  EXPECT_EQ(CheckMode(p, v1::IOMMU_MODE_PASSTHROUGH), "");
  EXPECT_EQ(CheckMode(p, v1::IOMMU_MODE_STRICT),
            "requested strict, but group 14 (0000:ca:00.0, mlx5_core) has type identity");
  // Without knowing the NIC, every group must agree.
  SysrootBuilder c;
  Node(c, "intel_iommu=on", "dmar0", "DMA");
  c.File("/sys/kernel/iommu_groups/3/type", "DMA-FQ\n");
  c.Nic("enp202s0f1np1", "0000:ca:00.1");  // two PCI NICs: none chosen
  IommuProbe q = Probe(c);
  EXPECT_EQ(q.detected, "mixed");
  EXPECT_TRUE(q.data_group.empty());
  EXPECT_EQ(CheckMode(q, v1::IOMMU_MODE_STRICT),
            "requested strict, but group 3 (0000:00:14.0) has type DMA-FQ");
  // Naming it by interface or PCI address picks its group.
  EXPECT_EQ(Probe(c, "", "enp202s0f1np1").data_group, "15");
  EXPECT_EQ(Probe(c, "", "0000:ca:00.0").data_group, "14");
}

TEST(IommuProbeTest, MismatchNamesTheGroupDeviceAndType) {
  SysrootBuilder b;
  Node(b, "intel_iommu=on iommu.strict=1", "dmar0", "DMA-FQ");
  IommuProbe p = Probe(b);
  EXPECT_EQ(p.detected, "lazy");
  EXPECT_EQ(CheckMode(p, v1::IOMMU_MODE_STRICT),
            "requested strict, but group 14 (0000:ca:00.0, mlx5_core) has type DMA-FQ");
  EXPECT_NE(std::find(p.warnings.begin(), p.warnings.end(),
                      "the command line asks for strict but the node runs lazy"),
            p.warnings.end());
}

// An emulated VT-d with caching mode: the log says lazy, then that
// batching is disallowed. Even if a kernel still showed DMA-FQ, it runs
// strict.
TEST(IommuProbeTest, CachingModeGuestForcedStrict) {
  const std::string log =
      "[    1.4] iommu: Default domain type: Translated \n"
      "[    1.4] iommu: DMA domain TLB invalidation policy: lazy mode (set via kernel command "
      "line)\n"
      "[    1.7] DMAR: IOMMU batching disallowed due to virtualization\n";
  for (const char* type : {"DMA", "DMA-FQ"}) {
    SysrootBuilder b;
    Node(b, "intel_iommu=on iommu.strict=0", "dmar0", type);
    IommuProbe p = Probe(b, log);
    EXPECT_EQ(p.detected, "strict") << type;
    EXPECT_TRUE(p.kernel_log.batching_disallowed);
    EXPECT_EQ(CheckMode(p, v1::IOMMU_MODE_LAZY),
              std::string("requested lazy, but group 14 (0000:ca:00.0, mlx5_core) has type ") +
                  (std::string(type) == "DMA" ? "DMA" : "DMA-FQ (strict: batching disallowed)"));
    EXPECT_EQ(CheckMode(p, v1::IOMMU_MODE_STRICT), "");
  }
}

// Linux 6.1 under QEMU's amd-iommu (seen booting it here with
// iommu.strict=0): the policy line says lazy, then the AMD driver says it
// uses strict mode, and every group is DMA.
TEST(IommuProbeTest, AmdGuestForcedStrictByVirtualization) {
  const std::string log =
      "[    0.871099] iommu: DMA domain TLB invalidation policy: lazy mode (set via kernel "
      "command line)\n"
      "[    1.022713] AMD-Vi: Using strict mode due to virtualization\n"
      "[    1.027842] pci 0000:00:03.0: AMD-Vi: Found IOMMU cap 0x40\n";
  SysrootBuilder b;
  Node(b, "iommu.strict=0", "ivhd0", "DMA");
  IommuProbe p = Probe(b, log);
  EXPECT_EQ(p.detected, "strict");
  EXPECT_TRUE(p.kernel_log.batching_disallowed);
  EXPECT_NE(std::find(p.warnings.begin(), p.warnings.end(),
                      "the kernel log says lazy mode, then 'AMD-Vi: Using strict mode due to "
                      "virtualization': the AMD IOMMU driver under an emulated AMD-Vi flushes "
                      "every unmap, so this node runs strict"),
            p.warnings.end());
}

// A typo in the command line requests nothing; the kernel default decides
// and the probe reports what runs.
TEST(IommuProbeTest, CmdlineTypoFallsBackToTheKernelDefault) {
  SysrootBuilder b;
  Node(b, "intel_iommu=on iommu.stict=1", "dmar0", "DMA-FQ");
  IommuProbe p = Probe(b);
  EXPECT_EQ(p.requested, v1::IOMMU_MODE_UNSPECIFIED);
  EXPECT_EQ(p.detected, "lazy");
  EXPECT_EQ(CheckMode(p, v1::IOMMU_MODE_STRICT).substr(0, 27), "requested strict, but group");
}

TEST(IommuProbeTest, MissingFilesGiveUnknownNotACrash) {
  SysrootBuilder b;
  b.Unit("dmar0");  // units but no groups, no cmdline, no log
  IommuProbe p = Probe(b);
  EXPECT_EQ(p.detected, "unknown");
  EXPECT_TRUE(p.cmdline.empty());
  // With the kernel log the mode is still known.
  EXPECT_EQ(Probe(b, kIntelLog).detected, "strict");
}

// An absent or unreadable /sys must never certify the IOMMU as off.
// Before 5.15 there is no DMA-FQ: lazy and strict groups both read DMA,
// and each kernel says its flush policy in its own words (or not at all).
TEST(IommuProbeTest, KernelsWithoutDmaFqAreJudgedByTheirOwnWords) {
  struct KernelCase {
    const char* release;
    const char* unit;
    const char* log;
    const char* detected;
  };
  const KernelCase cases[] = {
      // Ubuntu 20.04 on an r650: intel_iommu=strict, the only strict on 5.4.
      {"5.4.0-216-generic", "dmar0", "[    0.000000] DMAR: Disable batched IOTLB flush\n",
       "strict"},
      // ... and without it: nothing says lazy, nothing says strict.
      {"5.4.0-216-generic", "dmar0", "[    0.135117] DMAR: IOMMU enabled\n", "unknown"},
      // Ubuntu 20.04 on a c6525: the AMD driver says which.
      {"5.4.0-216-generic", "ivhd0", "[    1.9] AMD-Vi: Lazy IO/TLB flushing enabled\n", "lazy"},
      {"5.4.0-216-generic", "ivhd0", "[    1.9] AMD-Vi: IO/TLB flush on unmap enabled\n", "strict"},
      // 5.14 prints the policy but has no DMA-FQ yet.
      {"5.14.21", "dmar0", "[    1.4] iommu: DMA domain TLB invalidation policy: lazy mode \n",
       "lazy"},
      // 5.15 and later: the group type is the authority.
      {"5.15.0-91-generic", "dmar0", "", "strict"},
  };
  for (const KernelCase& c : cases) {
    SCOPED_TRACE(std::string(c.release) + " " + c.log);
    SysrootBuilder b;
    Node(b, "intel_iommu=on", c.unit, "DMA");
    b.File("/proc/sys/kernel/osrelease", std::string(c.release) + "\n");
    IommuProbe p = Probe(b, c.log);
    EXPECT_EQ(p.detected, c.detected);
    if (std::string(c.detected) == "unknown") {
      EXPECT_NE(CheckMode(p, v1::IOMMU_MODE_STRICT), "") << "unknown never verifies";
      EXPECT_NE(CheckMode(p, v1::IOMMU_MODE_LAZY), "");
      bool said = false;
      for (const auto& w : p.warnings)
        said = said || w.find("lazy cannot be told from strict") != std::string::npos;
      EXPECT_TRUE(said);
    } else {
      EXPECT_EQ(p.data_mode, c.detected);
    }
  }
}

TEST(IommuProbeTest, OffNeedsPositiveEvidence) {
  SysrootBuilder empty;
  IommuProbe p = Probe(empty);
  EXPECT_EQ(p.detected, "unknown");
  EXPECT_NE(CheckMode(p, v1::IOMMU_MODE_OFF), "") << "an unknown mode never verifies";
  // Present and empty: the kernel has the IOMMU core but no unit runs.
  SysrootBuilder bare;
  bare.Dir("/sys/class/iommu").Dir("/sys/kernel/iommu_groups");
  p = Probe(bare);
  EXPECT_EQ(p.detected, "off");
  EXPECT_EQ(CheckMode(p, v1::IOMMU_MODE_OFF), "");
  // The kernel's own words, or the command line, also count.
  EXPECT_EQ(Probe(empty, "[    0.000000] DMAR: IOMMU disabled\n").detected, "off");
  SysrootBuilder asked;
  asked.Cmdline("amd_iommu=off");
  EXPECT_EQ(Probe(asked).detected, "off");
}

}  // namespace
}  // namespace iommuvm::agent
