#include "iommu/guest_mode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace iommuvm::iommu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr auto kOff = v1::IOMMU_MODE_OFF;
constexpr auto kPt = v1::IOMMU_MODE_PASSTHROUGH;
constexpr auto kLazy = v1::IOMMU_MODE_LAZY;
constexpr auto kStrict = v1::IOMMU_MODE_STRICT;
constexpr auto kDefault = v1::IOMMU_MODE_UNSPECIFIED;

ViommuOptions CachingMode() {
  ViommuOptions o;
  o.caching_mode = true;
  o.intremap = true;
  return o;
}

GuestRequest Asks(v1::IommuMode mode) {
  GuestRequest r;
  r.mode = mode;
  return r;
}

// docs/vm.md's table, measured with Debian 12's 6.1 kernel under QEMU 7.2.
TEST(GuestModeTest, WhatEachMeasuredConfigurationRuns) {
  struct Case {
    Viommu viommu;
    bool caching_mode;
    v1::IommuMode asked;
    v1::IommuMode runs;
  } cases[] = {
      {Viommu::kIntel, true, kStrict, kStrict}, {Viommu::kIntel, true, kLazy, kStrict},
      {Viommu::kIntel, false, kLazy, kLazy},    {Viommu::kIntel, true, kPt, kPt},
      {Viommu::kIntel, false, kOff, kOff},      {Viommu::kAmd, false, kStrict, kStrict},
      {Viommu::kAmd, false, kLazy, kStrict},    {Viommu::kAmd, false, kPt, kPt},
      {Viommu::kNone, false, kDefault, kOff},   {Viommu::kVirtio, false, kStrict, kStrict},
  };
  for (const Case& c : cases) {
    ViommuOptions o;
    o.caching_mode = c.caching_mode;
    GuestModeFacts f = ExpectedGuestMode(c.viommu, o, GuestNic::kVirtio, Asks(c.asked));
    SCOPED_TRACE(absl::StrCat(ViommuName(c.viommu), " cm=", c.caching_mode, " asks ",
                              GuestModeName(c.asked)));
    EXPECT_TRUE(f.starts);
    EXPECT_EQ(f.expected, c.runs);
    EXPECT_FALSE(f.reason.empty());
  }
}

TEST(GuestModeTest, LazyUnderCachingModeRunsStrictWithTheKernelsWords) {
  GuestModeFacts f = ExpectedGuestMode(Viommu::kIntel, CachingMode(), GuestNic::kVfio, Asks(kLazy));
  EXPECT_TRUE(f.starts);
  EXPECT_EQ(f.expected, kStrict);
  EXPECT_THAT(f.reason, HasSubstr("'DMAR: IOMMU batching disallowed due to virtualization'"));
  EXPECT_THAT(f.refusals, ElementsAre(GuestRefusal::kLazyRunsStrictUnderCachingMode));
}

TEST(GuestModeTest, LazyUnderAmdIommuRunsStrict) {
  GuestModeFacts f = ExpectedGuestMode(Viommu::kAmd, {}, GuestNic::kVirtio, Asks(kLazy));
  EXPECT_EQ(f.expected, kStrict);
  EXPECT_THAT(f.reason, HasSubstr("'AMD-Vi: Using strict mode due to virtualization'"));
  EXPECT_THAT(f.refusals, ElementsAre(GuestRefusal::kLazyRunsStrictUnderAmdIommu));
}

TEST(GuestModeTest, QemuRefusesAssignedDevicesItCannotTranslateFor) {
  GuestModeFacts f = ExpectedGuestMode(Viommu::kIntel, {}, GuestNic::kVfio, Asks(kStrict));
  EXPECT_FALSE(f.starts);
  EXPECT_EQ(f.expected, kDefault);
  EXPECT_THAT(f.reason, HasSubstr("only with caching-mode=on"));
  EXPECT_THAT(f.refusals, ElementsAre(GuestRefusal::kVfioNeedsCachingMode));

  // Both facts hold, in the order the spec reports them.
  f = ExpectedGuestMode(Viommu::kAmd, {}, GuestNic::kVfio, Asks(kLazy));
  EXPECT_FALSE(f.starts);
  EXPECT_THAT(f.reason, HasSubstr("lacks the map notifier VFIO needs"));
  EXPECT_THAT(f.refusals, ElementsAre(GuestRefusal::kVfioBehindAmdIommu,
                                      GuestRefusal::kLazyRunsStrictUnderAmdIommu));

  f = ExpectedGuestMode(Viommu::kIntel, CachingMode(), GuestNic::kVfio, Asks(kStrict));
  EXPECT_TRUE(f.starts);
  EXPECT_EQ(f.expected, kStrict);
  EXPECT_THAT(f.refusals, IsEmpty());
}

TEST(GuestModeTest, ModesTheGuestCannotRun) {
  GuestModeFacts f = ExpectedGuestMode(Viommu::kVirtio, {}, GuestNic::kVirtio, Asks(kOff));
  EXPECT_EQ(f.expected, kDefault);
  EXPECT_THAT(f.reason, HasSubstr("virtio-iommu cannot be turned off"));
  EXPECT_THAT(f.refusals, ElementsAre(GuestRefusal::kVirtioIommuCannotBeOff));

  for (v1::IommuMode m : {kPt, kLazy, kStrict}) {
    f = ExpectedGuestMode(Viommu::kNone, {}, GuestNic::kVirtio, Asks(m));
    EXPECT_EQ(f.expected, kOff);
    EXPECT_THAT(f.reason, HasSubstr("without a vIOMMU"));
    EXPECT_THAT(f.refusals, ElementsAre(GuestRefusal::kModeNeedsViommu));
  }
  for (v1::IommuMode m : {kOff, kDefault, v1::IOMMU_MODE_CURRENT}) {
    f = ExpectedGuestMode(Viommu::kNone, {}, GuestNic::kVirtio, Asks(m));
    EXPECT_EQ(f.expected, kOff);
    EXPECT_THAT(f.refusals, IsEmpty());
  }
}

TEST(GuestModeTest, TheKernelDefaultIsNotGuessed) {
  GuestModeFacts f =
      ExpectedGuestMode(Viommu::kIntel, CachingMode(), GuestNic::kVirtio, Asks(kDefault));
  EXPECT_EQ(f.expected, kDefault);
  EXPECT_THAT(f.reason, HasSubstr("built-in default"));
  EXPECT_THAT(f.reason, HasSubstr("caching mode makes a lazy default strict"));
  EXPECT_THAT(f.refusals, IsEmpty());
  f = ExpectedGuestMode(Viommu::kIntel, {}, GuestNic::kVirtio, Asks(v1::IOMMU_MODE_CURRENT));
  EXPECT_EQ(f.expected, kDefault);
  EXPECT_EQ(GuestModeName(v1::IOMMU_MODE_CURRENT), std::string("default"));
  EXPECT_EQ(GuestModeName(kDefault), std::string("default"));
  EXPECT_EQ(GuestModeName(kLazy), std::string("lazy"));
}

// Linux disallows batching under caching mode only on second-level tables:
// first-level translation needs QEMU's scalable mode with x-flts and a
// guest that enables scalable mode.
TEST(GuestModeTest, FirstLevelTranslationKeepsLazyUnderCachingMode) {
  ViommuOptions o = CachingMode();
  o.scalable_mode = true;
  o.flts = true;
  GuestRequest r = GuestRequestFromCmdline("intel_iommu=on,sm_on iommu.strict=0");
  EXPECT_TRUE(r.scalable_mode);
  GuestModeFacts f = ExpectedGuestMode(Viommu::kIntel, o, GuestNic::kVirtio, r);
  EXPECT_EQ(f.expected, kLazy);
  EXPECT_THAT(f.refusals, IsEmpty());

  r = GuestRequestFromCmdline("intel_iommu=on iommu.strict=0");
  f = ExpectedGuestMode(Viommu::kIntel, o, GuestNic::kVirtio, r);
  EXPECT_EQ(f.expected, kStrict);
  EXPECT_THAT(f.reason, HasSubstr("intel_iommu=sm_on"));

  o.flts = false;  // scalable mode with second-level tables only
  f = ExpectedGuestMode(Viommu::kIntel, o, GuestNic::kVirtio,
                        GuestRequestFromCmdline("intel_iommu=sm_on iommu.strict=0"));
  EXPECT_EQ(f.expected, kStrict);
}

TEST(GuestModeTest, RequestIsReadAsTheProbeReadsACommandLine) {
  EXPECT_EQ(GuestRequestFromCmdline("console=ttyS0 intel_iommu=on iommu.strict=0").mode, kLazy);
  EXPECT_EQ(GuestRequestFromCmdline("intel_iommu=on iommu=pt").mode, kPt);
  EXPECT_EQ(GuestRequestFromCmdline("root=/dev/vda1").mode, kDefault);
  EXPECT_EQ(GuestRequestFromCmdline("intel_iommu=off").mode, kOff);
  EXPECT_FALSE(GuestRequestFromCmdline("intel_iommu=sm_on intel_iommu=sm_off").scalable_mode);
}

TEST(GuestModeTest, NamesRoundTrip) {
  for (Viommu v : {Viommu::kNone, Viommu::kIntel, Viommu::kAmd, Viommu::kVirtio}) {
    Viommu back = Viommu::kNone;
    EXPECT_TRUE(ParseViommuName(ViommuName(v), &back));
    EXPECT_EQ(back, v);
  }
  Viommu unused;
  EXPECT_FALSE(ParseViommuName("smmuv3", &unused));
  EXPECT_EQ(GuestNicName(GuestNic::kVfio), std::string("vfio"));
  EXPECT_EQ(GuestNicName(GuestNic::kNone), std::string("none"));
}

}  // namespace
}  // namespace iommuvm::iommu
