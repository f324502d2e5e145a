#pragma once
// What the guest image's init prints on its serial console (see
// agent/vm/guest/init): a line when userspace is up, then the JSON of
// `iommuvm-agent inspect` run inside the guest between two markers — the
// guest's own sysfs and kernel log judging the guest's IOMMU mode.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace iommuvm::agent {

inline constexpr char kGuestUpMarker[] = "IOMMUVM-GUEST-UP";
inline constexpr char kInspectBeginMarker[] = "IOMMUVM-INSPECT-BEGIN";
inline constexpr char kInspectEndMarker[] = "IOMMUVM-INSPECT-END";

struct GuestReport {
  std::string requested_mode;  // from the guest's command line
  std::string detected_mode;   // off | passthrough | lazy | strict | mixed | unknown
  std::string cmdline;
  std::string data_nic;         // the guest's NIC, and its group and type
  std::string data_group;
  std::string data_group_type;
  std::vector<std::string> iommu_units;
  std::vector<std::string> warnings;
  std::string kernel_release;
};

// The report in `console`; an error saying what is missing (the guest
// never reached userspace, inspect failed with its words, bad JSON).
absl::StatusOr<GuestReport> ParseGuestReport(const std::string& console);

}  // namespace iommuvm::agent
