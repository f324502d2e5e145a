#include "agent/vm/accelerator.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/vm/guest_report.h"
#include "agent/vm/qemu_vm.h"

namespace iommuvm::agent {

Accelerator ChooseAccelerator(const std::string& kvm_device,
                              const std::function<absl::Status()>& probe_boot) {
  int fd = ::open(kvm_device.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return {"tcg", absl::StrCat("TCG: cannot open ", kvm_device, " (", std::strerror(errno), ")")};
  }
  ::close(fd);
  absl::Status probe = probe_boot();
  if (!probe.ok()) {
    return {"tcg", absl::StrCat("TCG: ", kvm_device, " opens but a probe boot under KVM failed: ",
                                probe.message())};
  }
  return {"kvm", absl::StrCat("KVM: a probe boot under KVM reached the guest's init")};
}

absl::Status ProbeKvmBoot(CommandRunner* runner, FileSystem* files, const Clock* clock,
                          const v1::VmConfig& guest, const std::string& run_dir,
                          absl::Duration timeout) {
  v1::VmConfig probe;
  probe.set_name("kvm-probe");
  probe.set_vcpus(1);
  probe.set_memory_bytes(512ull << 20);
  probe.set_viommu("none");
  probe.set_nic("virtio");
  probe.set_guest_iommu(v1::IOMMU_MODE_CURRENT);
  probe.set_kernel(guest.kernel());
  probe.set_initrd(guest.initrd());
  QemuVm vm(runner, files, clock);
  absl::Status started = vm.Start(probe, "kvm", run_dir);
  if (!started.ok()) return started;
  auto up = vm.WaitForConsole(kGuestUpMarker, timeout);
  return up.ok() ? absl::OkStatus() : up.status();
}

}  // namespace iommuvm::agent
