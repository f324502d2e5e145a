#pragma once
// The libvirt domain XML of a run's guest (vms.<name>.backend: libvirt):
// generated from the VmConfig — the same machine QemuCommandLine builds,
// in libvirt's words — or made from the user's own domain XML
// (vms.<name>.libvirt_xml). A template keeps everything the user wrote
// except what iommuvm owns for the run: the domain's name and type, the
// guest kernel command line's IOMMU tokens (and the guest agent's
// settings), the serial console (a file in the run directory), the data
// NIC's MAC, a control NIC for the guest agent, hugepages when asked, and
// on_reboot (a guest that reboots has ended its run).

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::agent {

struct LibvirtLaunch {
  std::string name;           // the domain's name, unique per run on the host
  std::string accel = "kvm";  // kvm | tcg: <domain type='kvm'> or type='qemu'
  std::string emulator;       // an absolute QEMU path, or "" for libvirt's own
  std::string console_path;   // the guest's serial console is written here
  std::string bridge;         // the data NIC's bridge (generated domains)
  std::string tap;            // the data NIC's tap name (generated domains)
  std::string data_mac;
  std::string control_mac;
  std::string extra_append;  // more guest kernel parameters (the guest agent's settings)
};

// A domain for `vm` (its kernel and initrd must be set). InvalidArgument
// for what QemuCommandLine refuses too, and for viommu amd (libvirt has no
// such model).
absl::StatusOr<std::string> GeneratedDomainXml(const v1::VmConfig& vm, const LibvirtLaunch& launch);

// The user's template `text` (read from `source`, named in every error)
// made this run's domain. The template's vIOMMU must be the one the spec
// says (the spec's guest-mode checks assumed it); its first <interface> is
// the data NIC, or iommuvm adds one on `launch.bridge` when it has none; a
// template without <os><kernel> boots `vm.kernel()`/`vm.initrd()`.
absl::StatusOr<std::string> DomainFromTemplate(absl::string_view text, absl::string_view source,
                                               const v1::VmConfig& vm, const LibvirtLaunch& launch);

// The kernel command line `user` with the IOMMU tokens (intel_iommu=,
// amd_iommu=, iommu=, iommu.strict=, iommu.passthrough=) and iommuvm.*
// settings taken out: what stays of a template's <cmdline>.
std::string WithoutIommuTokens(absl::string_view user);

}  // namespace iommuvm::agent
