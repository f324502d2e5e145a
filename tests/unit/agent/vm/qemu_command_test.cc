// QEMU command lines for each vIOMMU and NIC, and configurations refused
// before any boot with the reason.
#include "agent/vm/qemu_command.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_join.h"
#include "agent/vm/accelerator.h"
#include "agent/vm/guest_capture.h"
#include "agent/vm/guest_report.h"
#include "agent/vm_check_command.h"
#include "tests/support/fixtures.h"

namespace iommuvm::agent {
namespace {

v1::VmConfig Guest(const std::string& viommu, v1::IommuMode mode) {
  v1::VmConfig vm;
  vm.set_viommu(viommu);
  vm.set_guest_iommu(mode);
  vm.set_vcpus(4);
  vm.set_memory_bytes(2ull << 30);
  vm.set_intremap(true);
  vm.set_caching_mode(true);
  vm.set_nic("virtio");
  vm.set_kernel("/g/vmlinuz");
  vm.set_initrd("/g/initrd.cpio");
  return vm;
}

std::string Line(const v1::VmConfig& vm, const std::string& accel = "tcg") {
  QemuLaunch launch;
  launch.accel = accel;
  launch.console_path = "/run/console.log";
  auto argv = QemuCommandLine(vm, launch);
  EXPECT_TRUE(argv.ok()) << argv.status();
  return argv.ok() ? absl::StrJoin(*argv, " ") : "";
}

TEST(QemuCommandTest, IntelGuestWithCachingModeAndAtsNic) {
  v1::VmConfig vm = Guest("intel", v1::IOMMU_MODE_STRICT);
  vm.set_device_iotlb(true);
  vm.set_aw_bits(48);
  EXPECT_EQ(Line(vm),
            "qemu-system-x86_64 -machine q35,accel=tcg,kernel-irqchip=split -cpu max -smp 4 "
            "-m 2048 -name guest,debug-threads=on -display none -monitor none -no-reboot "
            "-serial file:/run/console.log "
            "-device intel-iommu,intremap=on,caching-mode=on,device-iotlb=on,aw-bits=48 "
            "-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1 -netdev user,id=data "
            "-device virtio-net-pci,netdev=data,bus=rp1,disable-legacy=on,iommu_platform=on,"
            "ats=on -kernel /g/vmlinuz -initrd /g/initrd.cpio "
            "-append console=ttyS0 panic=-1 intel_iommu=on iommu.strict=1");
  // Under KVM the guest gets the host's CPU.
  EXPECT_NE(Line(vm, "kvm").find("accel=kvm,kernel-irqchip=split -cpu host"), std::string::npos);
}

// Hugepage-backed RAM: a preallocated file backend on the hugetlbfs mount,
// named as the machine's memory.
TEST(QemuCommandTest, HugepagesBackTheGuestsMemory) {
  v1::VmConfig vm = Guest("intel", v1::IOMMU_MODE_STRICT);
  vm.set_hugepages(true);
  QemuLaunch launch;
  launch.console_path = "/run/console.log";
  EXPECT_FALSE(QemuCommandLine(vm, launch).ok());  // no mount given
  launch.hugetlbfs = "/dev/hugepages";
  auto argv = QemuCommandLine(vm, launch);
  ASSERT_TRUE(argv.ok()) << argv.status();
  std::string line = absl::StrJoin(*argv, " ");
  EXPECT_NE(line.find("q35,accel=tcg,kernel-irqchip=split,memory-backend=mem"), std::string::npos);
  EXPECT_NE(line.find("-object memory-backend-file,id=mem,size=2048M,mem-path=/dev/hugepages,"
                      "prealloc=on,share=on"),
            std::string::npos)
      << line;
}

TEST(QemuCommandTest, AmdVirtioAndNoViommu) {
  std::string amd = Line(Guest("amd", v1::IOMMU_MODE_PASSTHROUGH));
  EXPECT_NE(amd.find("-device amd-iommu,intremap=on -device pcie-root-port"), std::string::npos);
  // On pcie.0: QEMU 7.2's amd-iommu mistranslates a device behind a port.
  EXPECT_NE(amd.find("virtio-net-pci,netdev=data,bus=pcie.0,disable-legacy=on,iommu_platform=on"),
            std::string::npos)
      << amd;
  EXPECT_NE(amd.find("-append console=ttyS0 panic=-1 iommu=pt"), std::string::npos);
  std::string virtio = Line(Guest("virtio", v1::IOMMU_MODE_LAZY));
  EXPECT_NE(virtio.find("-device virtio-iommu-pci -device pcie-root-port"), std::string::npos);
  EXPECT_NE(virtio.find("iommu.strict=0"), std::string::npos);
  std::string none = Line(Guest("none", v1::IOMMU_MODE_OFF));
  EXPECT_EQ(none.find("iommu"), std::string::npos) << none;  // no device, no token, no platform
  // An assigned VF goes behind the root port instead of virtio-net.
  v1::VmConfig vf = Guest("intel", v1::IOMMU_MODE_STRICT);
  vf.set_nic("vfio-vf");
  vf.set_vf_bdf("0000:17:00.2");
  std::string assigned = Line(vf);
  EXPECT_NE(assigned.find("-device vfio-pci,host=0000:17:00.2,bus=rp1"), std::string::npos);
  EXPECT_EQ(assigned.find("virtio-net"), std::string::npos);
}

// Nested translation: the VF in an iommufd-backed nested domain, VT-d in
// scalable mode with first-level tables the host walks.
TEST(QemuCommandTest, NestedTranslationOfAnAssignedVf) {
  v1::VmConfig vf = Guest("intel", v1::IOMMU_MODE_STRICT);
  vf.set_nic("vfio-vf");
  vf.set_vf_bdf("0000:17:00.2");
  vf.set_translation("nested");
  std::string line = Line(vf);
  EXPECT_NE(line.find("-object iommufd,id=iommufd0 -device intel-iommu,"), std::string::npos)
      << line;
  EXPECT_NE(line.find(",x-scalable-mode=on,x-flts=on"), std::string::npos) << line;
  EXPECT_NE(line.find("-device vfio-pci,host=0000:17:00.2,bus=rp1,iommufd=iommufd0"),
            std::string::npos)
      << line;
  v1::VmConfig virtio = Guest("intel", v1::IOMMU_MODE_STRICT);
  virtio.set_translation("nested");
  QemuLaunch launch;
  EXPECT_EQ(QemuCommandLine(virtio, launch).status().message(),
            "nested translation needs an assigned VF (nic vfio-vf)");
}

TEST(QemuCommandTest, ConfigurationsThatCannotRunAreRefusedWithTheReason) {
  auto refused = [](v1::VmConfig vm) {
    QemuLaunch launch;
    auto argv = QemuCommandLine(vm, launch);
    return argv.ok() ? std::string("accepted") : std::string(argv.status().message());
  };
  v1::VmConfig vf = Guest("intel", v1::IOMMU_MODE_STRICT);
  vf.set_nic("vfio-vf");
  vf.set_vf_bdf("0000:17:00.2");
  vf.set_caching_mode(false);
  EXPECT_NE(refused(vf).find("only with caching-mode=on"), std::string::npos);
  vf.set_viommu("amd");
  EXPECT_NE(refused(vf).find("amd-iommu cannot translate for an assigned device"),
            std::string::npos);
  vf.set_viommu("intel");
  vf.set_caching_mode(true);
  vf.clear_vf_bdf();
  EXPECT_NE(refused(vf).find("needs the host VF's PCI address"), std::string::npos);
  EXPECT_NE(refused(Guest("none", v1::IOMMU_MODE_LAZY)).find("a guest without a vIOMMU"),
            std::string::npos);
  EXPECT_NE(refused(Guest("virtio", v1::IOMMU_MODE_OFF)).find("use viommu none"),
            std::string::npos);
  EXPECT_NE(refused(Guest("smmu", v1::IOMMU_MODE_OFF)).find("is not one of none, intel"),
            std::string::npos);
  v1::VmConfig no_kernel = Guest("intel", v1::IOMMU_MODE_STRICT);
  no_kernel.clear_kernel();
  EXPECT_NE(refused(no_kernel).find("scripts/guest-image"), std::string::npos);
  v1::VmConfig typo = Guest("intel", v1::IOMMU_MODE_STRICT);
  typo.set_append("iommu.stict=1");
  EXPECT_NE(refused(typo).find("guest append"), std::string::npos);
}

}  // namespace
}  // namespace iommuvm::agent
