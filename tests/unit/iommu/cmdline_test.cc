
#include "iommu/cmdline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace iommuvm::iommu {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(CmdlineTest, DefaultTokensOfEveryModeAreValid) {
  for (CpuVendor v : {CpuVendor::kIntel, CpuVendor::kAmd}) {
    for (v1::IommuMode m : {v1::IOMMU_MODE_OFF, v1::IOMMU_MODE_PASSTHROUGH, v1::IOMMU_MODE_LAZY,
                            v1::IOMMU_MODE_STRICT}) {
      std::string tokens = DefaultIommuTokens(v, m);
      EXPECT_FALSE(tokens.empty());
      EXPECT_THAT(CheckCmdline(tokens), IsEmpty()) << tokens;
    }
  }
  EXPECT_EQ(DefaultIommuTokens(CpuVendor::kIntel, v1::IOMMU_MODE_STRICT),
            "intel_iommu=on iommu.strict=1");
  EXPECT_EQ(DefaultIommuTokens(CpuVendor::kAmd, v1::IOMMU_MODE_PASSTHROUGH), "iommu=pt");
  // Before 5.14 only the drivers' own switches make them strict (Ubuntu
  // 20.04's 5.4 on r650 and c6525).
  EXPECT_EQ(DefaultIommuTokens(CpuVendor::kIntel, v1::IOMMU_MODE_STRICT, "5.4.0-216-generic"),
            "intel_iommu=on,strict iommu.strict=1");
  EXPECT_EQ(DefaultIommuTokens(CpuVendor::kAmd, v1::IOMMU_MODE_STRICT, "5.13.19"),
            "amd_iommu=fullflush iommu.strict=1");
  EXPECT_EQ(DefaultIommuTokens(CpuVendor::kIntel, v1::IOMMU_MODE_STRICT, "5.15.0-91-generic"),
            "intel_iommu=on iommu.strict=1");
  EXPECT_EQ(DefaultIommuTokens(CpuVendor::kAmd, v1::IOMMU_MODE_LAZY, "5.4.0"), "iommu.strict=0");
  for (const char* strict : {"intel_iommu=on,strict", "intel_iommu=strict", "amd_iommu=fullflush",
                             "intel_iommu=on,strict iommu.strict=1"}) {
    EXPECT_EQ(RequestedModeFromCmdline(strict), v1::IOMMU_MODE_STRICT) << strict;
    EXPECT_TRUE(CheckCmdline(strict).empty()) << strict;
  }
  EXPECT_EQ(RequestedModeFromCmdline("iommu=pt intel_iommu=on,strict"), v1::IOMMU_MODE_PASSTHROUGH);
}

TEST(CmdlineTest, MisspelledParameterIsCaughtWithASuggestion) {
  EXPECT_THAT(CheckCmdline("intel_iommu=on iommu.stict=1"),
              ElementsAre(HasSubstr("unknown IOMMU parameter 'iommu.stict' in 'iommu.stict=1'; "
                                    "did you mean 'iommu.strict'?")));
  EXPECT_THAT(CheckCmdline("intel_iomu=on"), ElementsAre(HasSubstr("did you mean 'intel_iommu'?")));
}

TEST(CmdlineTest, BadValuesAreCaught) {
  EXPECT_THAT(CheckCmdline("iommu.strict=2"),
              ElementsAre(HasSubstr("'2' is not a value of iommu.strict (allowed: 0, 1)")));
  EXPECT_THAT(CheckCmdline("intel_iommu=on,igfx_of"),
              ElementsAre(HasSubstr("did you mean 'igfx_off'?")));
  EXPECT_THAT(CheckCmdline("iommu=ptt"), ElementsAre(HasSubstr("did you mean 'pt'?")));
  EXPECT_THAT(CheckCmdline("amd_iommu_dump=1"), ElementsAre(HasSubstr("takes no value")));
  EXPECT_THAT(CheckCmdline("vfio-pci.ids"), ElementsAre(HasSubstr("needs a value")));
}

TEST(CmdlineTest, ShellAndQuotingCharactersAreRejected) {
  for (const char* bad : {"iommu=pt; reboot", "a=\"b c\"", "x=$(id)", "iommu=pt\nfoo", "a=`b`",
                          "a=b\\c", "a=b|c", "a='b'"}) {
    auto errors = CheckCmdline(bad);
    ASSERT_EQ(errors.size(), 1u) << bad;
    EXPECT_THAT(errors[0], HasSubstr("is not allowed in a kernel command line")) << bad;
  }
}

TEST(CmdlineTest, UnrelatedParametersPass) {
  EXPECT_THAT(CheckCmdline("mitigations=off  nosmt isolcpus=2-5 hugepages=1024"), IsEmpty());
  EXPECT_THAT(CheckCmdline(""), IsEmpty());
  EXPECT_THAT(CheckCmdline("ivrs_ioapic[32]=00:14.0 vfio-pci.ids=15b3:101e"), IsEmpty());
}

TEST(CmdlineTest, TokensThatTakeOverTheBootAreRefusedEverywhere) {
  for (const char* token : {"init=/bin/sh", "rdinit=/x", "root=/dev/sdb1", "module.sig_enforce=0",
                            "lockdown=none", "systemd.unit=rescue.target", "rd.break"}) {
    EXPECT_THAT(CheckCmdline(token), ElementsAre(HasSubstr("is refused"))) << token;
    EXPECT_THAT(CheckCmdlineForNode(token, {token, std::string(token).substr(0, 4)}),
                ElementsAre(HasSubstr("is refused")))
        << "--allow_cmdline cannot allow " << token;
  }
  // The shell never sees a token: the grammar stops it first.
  EXPECT_THAT(CheckCmdline("quiet \"; reboot"), ElementsAre(HasSubstr("character '\"'")));
}

TEST(CmdlineTest, ANodeWritesOnlyBenchmarkParametersUnlessAllowed) {
  EXPECT_THAT(CheckCmdlineForNode("intel_iommu=on iommu.strict=1 mitigations=off isolcpus=2-7 "
                                  "ivrs_ioapic[32]=00:14.0",
                                  {}),
              IsEmpty());
  EXPECT_THAT(CheckCmdlineForNode("mitigations=off foo.bar=1", {}),
              ElementsAre(AllOf(HasSubstr("'foo.bar=1'"), HasSubstr("--allow_cmdline foo.bar"))));
  EXPECT_THAT(CheckCmdlineForNode("foo.bar=1", {"foo.bar"}), IsEmpty());
  // A whole token allows that value only.
  EXPECT_THAT(CheckCmdlineForNode("foo.bar=1", {"foo.bar=1"}), IsEmpty());
  EXPECT_THAT(CheckCmdlineForNode("foo.bar=2", {"foo.bar=1"}), ElementsAre(HasSubstr("foo.bar=2")));
}

}  // namespace
}  // namespace iommuvm::iommu
