#pragma once
// Kernel command-line fragments from specs (iommu_tokens, extra_cmdline)
// are checked before any node reboots: a strict token grammar (no quotes,
// whitespace inside tokens, ';', '$', backquotes or newlines — they would
// reach grub and kexec) and, for IOMMU-related parameters, a list of the
// parameters and values the kernel knows, so `iommu.stict=1` is caught.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "iommuvm/v1/common.pb.h"

namespace iommuvm::iommu {

// Problems with `fragment` (empty when it is acceptable), each naming the
// offending token and, where there is one, the closest known parameter.
// Parameters that would hand a node's boot or its kernel's integrity to
// whoever wrote a spec (init=, rdinit=, root=, module.sig_enforce,
// lockdown=, systemd.unit=, ...; RefusedParameters()) are problems too.
std::vector<std::string> CheckCmdline(const std::string& fragment);

// Never written to a node's boot configuration, whatever the agent allows.
const std::vector<std::string>& RefusedParameters();

// The parameters an agent writes into its node's boot configuration
// without being told to: the IOMMU's own and a documented set that
// benchmarks tune (CPU isolation, idle states, frequency, mitigations,
// hugepages, timers; docs/security.md lists them).
const std::vector<std::string>& BenchmarkParameters();

// Problems with `fragment` as an agent sees it (CheckCmdline's, then any
// token outside BenchmarkParameters() and `also_allowed`, the agent's
// --allow_cmdline entries: a parameter name, or a whole token "key=value"
// allowed only with that value).
std::vector<std::string> CheckCmdlineForNode(const std::string& fragment,
                                             const std::vector<std::string>& also_allowed);

enum class CpuVendor { kIntel, kAmd };

// Whether kernel `release` ("5.4.0-216-generic") is at least major.minor;
// false when it cannot be read.
bool KernelAtLeast(const std::string& release, int major, int minor);

// The design's default tokens for a mode ("intel_iommu=on iommu.strict=1").
// Before 5.14 the generic iommu.strict=1 does not reach the drivers' own
// DMA paths (Intel used its own DMA ops until 5.11 and honoured only
// intel_iommu=strict until 5.14; AMD only amd_iommu=fullflush), so for a
// known `kernel_release` older than 5.14 strict adds the driver's own token.
std::string DefaultIommuTokens(CpuVendor vendor, v1::IommuMode mode,
                               const std::string& kernel_release = "");

// OFF, PASSTHROUGH, LAZY or STRICT from a booted command line's tokens;
// UNSPECIFIED when the line leaves the choice to the kernel's built-in
// default. The authority is the agent's probe (sysfs group types).
v1::IommuMode RequestedModeFromCmdline(absl::string_view cmdline);

// The tokens of `cmdline` that select the IOMMU mode (intel_iommu=,
// amd_iommu=, iommu=, iommu.strict=, iommu.passthrough=), in order.
std::vector<std::string> ModeTokens(absl::string_view cmdline);

// `cmdline` with its mode tokens removed and `tokens` appended: what kexec
// and grub boot next. Every other token (root=, console=, ...) is kept.
std::string ReplaceModeTokens(absl::string_view cmdline, absl::string_view tokens);

}  // namespace iommuvm::iommu
