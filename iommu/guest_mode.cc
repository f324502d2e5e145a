#include "iommu/guest_mode.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "iommu/cmdline.h"
#include "iommu/mode_names.h"

namespace iommuvm::iommu {

const char* ViommuName(Viommu viommu) {
  switch (viommu) {
    case Viommu::kIntel:
      return "intel";
    case Viommu::kAmd:
      return "amd";
    case Viommu::kVirtio:
      return "virtio";
    default:
      return "none";
  }
}

bool ParseViommuName(absl::string_view name, Viommu* out) {
  for (Viommu v : {Viommu::kNone, Viommu::kIntel, Viommu::kAmd, Viommu::kVirtio}) {
    if (name == ViommuName(v)) {
      *out = v;
      return true;
    }
  }
  return false;
}

const char* GuestNicName(GuestNic nic) {
  switch (nic) {
    case GuestNic::kVirtio:
      return "virtio";
    case GuestNic::kVfio:
      return "vfio";
    case GuestNic::kOther:
      return "other";
    default:
      return "none";
  }
}

GuestRequest GuestRequestFromCmdline(absl::string_view cmdline) {
  GuestRequest r;
  r.mode = RequestedModeFromCmdline(cmdline);
  for (const std::string& token : ModeTokens(cmdline)) {
    absl::string_view values = token;
    if (!absl::ConsumePrefix(&values, "intel_iommu=")) continue;
    for (absl::string_view v : absl::StrSplit(values, ',')) {
      if (v == "sm_on") r.scalable_mode = true;  // later tokens win, as in the kernel
      if (v == "sm_off") r.scalable_mode = false;
    }
  }
  return r;
}

std::string GuestRefusalFact(GuestRefusal refusal) {
  switch (refusal) {
    case GuestRefusal::kVfioNeedsCachingMode:
      return "QEMU assigns a device behind intel-iommu only with caching-mode=on; it refuses to "
             "start this guest";
    case GuestRefusal::kVfioBehindAmdIommu:
      return "QEMU's amd-iommu cannot translate for an assigned device (it lacks the map "
             "notifier VFIO needs)";
    case GuestRefusal::kLazyRunsStrictUnderCachingMode:
      return "under an emulated VT-d with caching mode Linux runs lazy as strict ('DMAR: IOMMU "
             "batching disallowed due to virtualization')";
    case GuestRefusal::kLazyRunsStrictUnderAmdIommu:
      return "under an emulated AMD IOMMU Linux runs lazy as strict ('AMD-Vi: Using strict mode "
             "due to virtualization')";
    case GuestRefusal::kVirtioIommuCannotBeOff:
      return "virtio-iommu cannot be turned off from the guest's command line; the guest runs "
             "its kernel's default";
    case GuestRefusal::kModeNeedsViommu:
      return "a guest without a vIOMMU has no IOMMU to run passthrough, lazy or strict; it runs "
             "without one (off)";
  }
  return "";
}

GuestModeFacts ExpectedGuestMode(Viommu viommu, const ViommuOptions& options, GuestNic nic,
                                 const GuestRequest& request) {
  GuestModeFacts f;
  v1::IommuMode asked =
      request.mode == v1::IOMMU_MODE_CURRENT ? v1::IOMMU_MODE_UNSPECIFIED : request.mode;
  bool translating = asked == v1::IOMMU_MODE_PASSTHROUGH || asked == v1::IOMMU_MODE_LAZY ||
                     asked == v1::IOMMU_MODE_STRICT;
  // Linux disallows batching under caching mode only for second-level
  // tables (intel/iommu.c: caching mode && !first_level_by_default): a
  // guest in scalable mode with first-level translation keeps lazy. From
  // the kernel's source; not measured here.
  bool first_level =
      viommu == Viommu::kIntel && options.scalable_mode && options.flts && request.scalable_mode;
  bool caching_strict = viommu == Viommu::kIntel && options.caching_mode && !first_level;

  if (nic == GuestNic::kVfio && viommu == Viommu::kIntel && !options.caching_mode) {
    f.refusals.push_back(GuestRefusal::kVfioNeedsCachingMode);
  }
  if (nic == GuestNic::kVfio && viommu == Viommu::kAmd) {
    f.refusals.push_back(GuestRefusal::kVfioBehindAmdIommu);
  }
  if (!f.refusals.empty()) {
    f.starts = false;
    f.reason = GuestRefusalFact(f.refusals[0]);
  }
  if (asked == v1::IOMMU_MODE_LAZY && caching_strict) {
    f.refusals.push_back(GuestRefusal::kLazyRunsStrictUnderCachingMode);
  }
  if (asked == v1::IOMMU_MODE_LAZY && viommu == Viommu::kAmd) {
    f.refusals.push_back(GuestRefusal::kLazyRunsStrictUnderAmdIommu);
  }
  if (asked == v1::IOMMU_MODE_OFF && viommu == Viommu::kVirtio) {
    f.refusals.push_back(GuestRefusal::kVirtioIommuCannotBeOff);
  }
  if (translating && viommu == Viommu::kNone) f.refusals.push_back(GuestRefusal::kModeNeedsViommu);
  if (!f.starts) return f;

  if (viommu == Viommu::kNone) {
    f.expected = v1::IOMMU_MODE_OFF;
    f.reason = translating ? GuestRefusalFact(GuestRefusal::kModeNeedsViommu)
                           : "no vIOMMU: the guest has no IOMMU";
    return f;
  }
  const std::string what = viommu == Viommu::kIntel ? "intel-iommu"
                           : viommu == Viommu::kAmd ? "amd-iommu"
                                                    : "virtio-iommu";
  switch (asked) {
    case v1::IOMMU_MODE_OFF:
      if (viommu == Viommu::kVirtio) {
        f.reason = GuestRefusalFact(GuestRefusal::kVirtioIommuCannotBeOff);
      } else {
        f.expected = v1::IOMMU_MODE_OFF;
        f.reason = absl::StrCat("as asked: the command line turns ", what, " off");
      }
      break;
    case v1::IOMMU_MODE_PASSTHROUGH:
      f.expected = v1::IOMMU_MODE_PASSTHROUGH;
      f.reason =
          absl::StrCat("as asked: identity domains under ", what, " (DMA is not translated)");
      break;
    case v1::IOMMU_MODE_STRICT:
      f.expected = v1::IOMMU_MODE_STRICT;
      f.reason = absl::StrCat("as asked: ", what, " invalidates every unmap");
      break;
    case v1::IOMMU_MODE_LAZY:
      if (caching_strict) {
        f.expected = v1::IOMMU_MODE_STRICT;
        f.reason = GuestRefusalFact(GuestRefusal::kLazyRunsStrictUnderCachingMode);
        if (options.scalable_mode && options.flts) {
          absl::StrAppend(&f.reason,
                          "; with x-scalable-mode and x-flts it could keep lazy on "
                          "first-level tables if the guest enables scalable mode "
                          "(intel_iommu=sm_on)");
        }
      } else if (viommu == Viommu::kAmd) {
        f.expected = v1::IOMMU_MODE_STRICT;
        f.reason = GuestRefusalFact(GuestRefusal::kLazyRunsStrictUnderAmdIommu);
      } else if (viommu == Viommu::kIntel) {
        f.expected = v1::IOMMU_MODE_LAZY;
        f.reason = first_level
                       ? "as asked: caching mode, but first-level translation (x-scalable-mode, "
                         "x-flts, intel_iommu=sm_on) keeps batching (from Linux's source; not "
                         "measured here)"
                       : "as asked: intel-iommu without caching mode batches invalidations";
      } else {
        f.expected = v1::IOMMU_MODE_LAZY;
        f.reason =
            "as asked, if the guest's virtio-iommu driver can defer invalidations (older "
            "kernels fall back to strict DMA domains); not measured here, check with "
            "iommuvm-agent vm-check";
      }
      break;
    default:
      f.reason = "the command line leaves the mode to the guest kernel's built-in default";
      if (caching_strict) {
        absl::StrAppend(&f.reason, "; caching mode makes a lazy default strict");
      } else if (viommu == Viommu::kAmd) {
        absl::StrAppend(&f.reason, "; an emulated AMD IOMMU makes a lazy default strict");
      }
      break;
  }
  return f;
}

const char* GuestModeName(v1::IommuMode mode) {
  if (mode == v1::IOMMU_MODE_UNSPECIFIED || mode == v1::IOMMU_MODE_CURRENT) return "default";
  return IommuModeName(mode);
}

}  // namespace iommuvm::iommu
