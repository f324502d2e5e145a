#include "agent/vm/qemu_command.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "iommu/cmdline.h"

namespace iommuvm::agent {
namespace {

const char* OnOff(bool b) { return b ? "on" : "off"; }

absl::Status CheckConfig(const v1::VmConfig& vm) {
  const std::string& v = vm.viommu();
  if (v != "none" && v != "intel" && v != "amd" && v != "virtio") {
    return absl::InvalidArgumentError(
        absl::StrCat("viommu '", v, "' is not one of none, intel, amd, virtio"));
  }
  if (vm.kernel().empty()) {
    return absl::InvalidArgumentError(
        "no guest kernel: guests boot their kernel directly, so its command line can carry "
        "the guest IOMMU mode (scripts/guest-image builds one from Debian's package)");
  }
  if (vm.aw_bits() != 0 && vm.aw_bits() != 39 && vm.aw_bits() != 48) {
    return absl::InvalidArgumentError(absl::StrCat("aw_bits ", vm.aw_bits(), " is not 39 or 48"));
  }
  v1::IommuMode mode = vm.guest_iommu();
  bool translating = mode == v1::IOMMU_MODE_LAZY || mode == v1::IOMMU_MODE_STRICT ||
                     mode == v1::IOMMU_MODE_PASSTHROUGH;
  if (v == "none" && translating) {
    return absl::InvalidArgumentError(
        "a guest without a vIOMMU has no IOMMU to run in passthrough, lazy or strict mode; "
        "give it viommu intel, amd or virtio");
  }
  if (v == "virtio" && mode == v1::IOMMU_MODE_OFF) {
    return absl::InvalidArgumentError(
        "virtio-iommu has no command-line switch to turn it off; use viommu none for an "
        "IOMMU-less guest");
  }
  if (vm.nic() == "vfio-vf") {
    if (vm.vf_bdf().empty()) {
      return absl::InvalidArgumentError("nic vfio-vf needs the host VF's PCI address (vf_bdf)");
    }
    if (v == "intel" && !vm.caching_mode()) {
      return absl::InvalidArgumentError(
          "QEMU assigns a device behind intel-iommu only with caching-mode=on (set "
          "caching_mode: true; the guest then runs lazy as strict)");
    }
    if (v == "amd") {
      return absl::InvalidArgumentError(
          "QEMU's amd-iommu cannot translate for an assigned device; use viommu intel (with "
          "caching mode) or virtio");
    }
  } else if (vm.translation() == "nested") {
    return absl::InvalidArgumentError("nested translation needs an assigned VF (nic vfio-vf)");
  } else if (vm.nic() != "virtio" && !vm.nic().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("nic '", vm.nic(), "' is not one of virtio, vfio-vf"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> GuestCmdline(const v1::VmConfig& vm) {
  std::string line = "console=ttyS0 panic=-1";
  v1::IommuMode mode = vm.guest_iommu();
  if (mode != v1::IOMMU_MODE_CURRENT && mode != v1::IOMMU_MODE_UNSPECIFIED &&
      vm.viommu() != "none") {
    // intel-iommu wants intel_iommu=; amd-iommu and virtio-iommu take the
    // generic iommu.strict= / iommu=pt (the AMD token set).
    auto vendor = vm.viommu() == "intel" ? iommu::CpuVendor::kIntel : iommu::CpuVendor::kAmd;
    absl::StrAppend(&line, " ", iommu::DefaultIommuTokens(vendor, mode));
  }
  if (!vm.append().empty()) {
    auto problems = iommu::CheckCmdline(vm.append());
    if (!problems.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("guest append: ", problems.front()));
    }
    absl::StrAppend(&line, " ", vm.append());
  }
  return line;
}

absl::StatusOr<std::vector<std::string>> QemuCommandLine(const v1::VmConfig& vm,
                                                         const QemuLaunch& launch) {
  absl::Status ok = CheckConfig(vm);
  if (!ok.ok()) return ok;
  if (launch.accel != "kvm" && launch.accel != "tcg") {
    return absl::InvalidArgumentError(absl::StrCat("accelerator '", launch.accel, "'"));
  }
  if (vm.hugepages() && launch.hugetlbfs.empty()) {
    return absl::InvalidArgumentError("hugepages: no hugetlbfs mount given");
  }
  auto cmdline = GuestCmdline(vm);
  if (!cmdline.ok()) return cmdline.status();
  uint64_t mib = std::max<uint64_t>(256, vm.memory_bytes() >> 20);
  std::vector<std::string> argv = {
      launch.qemu_binary,
      // Interrupt remapping needs the split irqchip under KVM; TCG accepts it.
      "-machine",
      absl::StrCat("q35,accel=", launch.accel, ",kernel-irqchip=split",
                   vm.hugepages() ? ",memory-backend=mem" : ""),
      // TCG's `max` is the CPU that boots reliably here; under KVM the host's.
      "-cpu", launch.accel == "kvm" ? "host" : "max", "-smp",
      absl::StrCat(std::max<uint32_t>(1, vm.vcpus())), "-m", absl::StrCat(mib),
      // Threads named by role ("CPU 0/TCG"), as libvirt does: the host's
      // telemetry tells vCPU time from emulation.
      "-name",
      absl::StrCat(vm.name().empty() ? "guest" : absl::StrReplaceAll(vm.name(), {{",", "_"}}),
                   ",debug-threads=on"),
      "-display", "none", "-monitor", "none", "-no-reboot", "-serial",
      absl::StrCat("file:", launch.console_path)};
  if (vm.hugepages()) {
    // Guest RAM from hugetlbfs, preallocated: no page faults and fewer
    // IOTLB/TLB misses while measuring.
    argv.insert(argv.end(), {"-object", absl::StrCat("memory-backend-file,id=mem,size=", mib,
                                                     "M,mem-path=", launch.hugetlbfs,
                                                     ",prealloc=on,share=on")});
  }
  bool nested = vm.translation() == "nested";
  if (nested) {
    if (vm.viommu() != "intel") {
      return absl::InvalidArgumentError("nested translation needs viommu intel");
    }
    // The VF's DMA goes through an iommufd-managed nested domain, not a
    // type1 container.
    argv.insert(argv.end(), {"-object", "iommufd,id=iommufd0"});
  }
  // The IOMMU first: QEMU wires it to the devices created after it.
  if (vm.viommu() == "intel") {
    std::string dev = absl::StrCat("intel-iommu,intremap=", OnOff(vm.intremap()),
                                   ",caching-mode=", OnOff(vm.caching_mode()),
                                   ",device-iotlb=", OnOff(vm.device_iotlb()));
    if (vm.aw_bits() != 0) absl::StrAppend(&dev, ",aw-bits=", vm.aw_bits());
    // Scalable mode with first-level tables: what the host walks nested.
    if (nested) absl::StrAppend(&dev, ",x-scalable-mode=on,x-flts=on");
    argv.insert(argv.end(), {"-device", dev});
  } else if (vm.viommu() == "amd") {
    argv.insert(argv.end(), {"-device", absl::StrCat("amd-iommu,intremap=", OnOff(vm.intremap()))});
  } else if (vm.viommu() == "virtio") {
    argv.insert(argv.end(), {"-device", "virtio-iommu-pci"});
  }
  // A root port gives the NIC PCIe extended capabilities (ATS appears only
  // there).
  argv.insert(argv.end(), {"-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1"});
  if (vm.nic() == "vfio-vf") {
    argv.insert(argv.end(), {"-device", absl::StrCat("vfio-pci,host=", vm.vf_bdf(), ",bus=rp1",
                                                     nested ? ",iommufd=iommufd0" : "")});
  } else {
    // QEMU's amd-iommu (7.2, and until "amd_iommu: Fix handling device on
    // buses != 0") keys a device by the bus number it had when QEMU created
    // it, before the firmware numbered the buses: behind rp1 the NIC is
    // translated with 00:00.0's device table entry, its ring reads return
    // zeros and virtio-net's control command spins forever (soft lockup,
    // RCU stall). On pcie.0 the number is 0 from the start; AMD-Vi here has
    // no ATS to lose.
    const char* bus = vm.viommu() == "amd" ? "pcie.0" : "rp1";
    std::string nic = absl::StrCat("virtio-net-pci,netdev=data,bus=", bus, ",disable-legacy=on");
    // Behind a vIOMMU the device must use it (and then needs modern-only
    // virtio: disable-legacy above).
    if (vm.viommu() != "none") absl::StrAppend(&nic, ",iommu_platform=on");
    if (vm.viommu() == "intel" && vm.device_iotlb()) absl::StrAppend(&nic, ",ats=on");
    if (!launch.data_mac.empty()) absl::StrAppend(&nic, ",mac=", launch.data_mac);
    argv.insert(argv.end(), {"-netdev", launch.data_netdev, "-device", nic});
  }
  if (!launch.control_mac.empty()) {
    argv.insert(argv.end(), {"-netdev", "user,id=ctl", "-device",
                             absl::StrCat("virtio-net-pci,netdev=ctl,mac=", launch.control_mac)});
  }
  if (!launch.qmp_socket.empty()) {
    argv.insert(argv.end(), {"-qmp", absl::StrCat("unix:", launch.qmp_socket, ",server=on,wait=off")});
  }
  argv.insert(argv.end(), {"-kernel", vm.kernel()});
  if (!vm.initrd().empty()) argv.insert(argv.end(), {"-initrd", vm.initrd()});
  if (!launch.extra_append.empty()) absl::StrAppend(&*cmdline, " ", launch.extra_append);
  argv.insert(argv.end(), {"-append", *cmdline});
  return argv;
}

}  // namespace iommuvm::agent
