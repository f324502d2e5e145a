// The VM pieces that need no guest: QEMU command lines for each vIOMMU and
// NIC (and the configurations refused), the guest kernel command line, the
// guest report read from a console recorded booting Debian's 6.1 kernel
// under intel-iommu with caching mode here, the accelerator choice and
// vm-check's arguments.
#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_join.h"
#include "agent/vm/accelerator.h"
#include "agent/vm/guest_capture.h"
#include "agent/vm/guest_report.h"
#include "agent/vm/qemu_command.h"
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
            "-m 2048 -display none -monitor none -no-reboot -serial file:/run/console.log "
            "-device intel-iommu,intremap=on,caching-mode=on,device-iotlb=on,aw-bits=48 "
            "-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1 -netdev user,id=data "
            "-device virtio-net-pci,netdev=data,bus=rp1,disable-legacy=on,iommu_platform=on,"
            "ats=on -kernel /g/vmlinuz -initrd /g/initrd.cpio "
            "-append console=ttyS0 panic=-1 intel_iommu=on iommu.strict=1");
  // Under KVM the guest gets the host's CPU.
  EXPECT_NE(Line(vm, "kvm").find("accel=kvm,kernel-irqchip=split -cpu host"), std::string::npos);
}

TEST(QemuCommandTest, AmdVirtioAndNoViommu) {
  std::string amd = Line(Guest("amd", v1::IOMMU_MODE_PASSTHROUGH));
  EXPECT_NE(amd.find("-device amd-iommu,intremap=on -device pcie-root-port"), std::string::npos);
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

using testing::Fixture;

TEST(GuestReportTest, RecordedConsoleOfALazyGuestUnderCachingMode) {
  auto r = ParseGuestReport(Fixture("vm/console-intel-lazy-caching-mode.log"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->requested_mode, "lazy");
  EXPECT_EQ(r->detected_mode, "strict");
  EXPECT_EQ(r->cmdline, "console=ttyS0 panic=-1 intel_iommu=on iommu.strict=0");
  EXPECT_EQ(r->data_nic, "eth0");
  EXPECT_EQ(r->data_group_type, "DMA");
  EXPECT_EQ(r->iommu_units, std::vector<std::string>{"dmar0"});
  EXPECT_EQ(r->kernel_release, "6.1.0-56-amd64");
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_NE(r->warnings[0].find("batching disallowed due to virtualization"), std::string::npos);
}

TEST(GuestReportTest, MissingOrCutReportsSayWhat) {
  EXPECT_NE(ParseGuestReport("[    0.0] Linux version 6.1\nKernel panic - not syncing")
                .status()
                .message()
                .find("never reached its init"),
            std::string::npos);
  EXPECT_NE(ParseGuestReport("IOMMUVM-GUEST-UP\nIOMMUVM-INSPECT-BEGIN\n{\"requested_mode\"")
                .status()
                .message()
                .find("missing or cut short"),
            std::string::npos);
  EXPECT_NE(ParseGuestReport("IOMMUVM-GUEST-UP\nIOMMUVM-INSPECT-BEGIN\n{oops}\n"
                             "IOMMUVM-INSPECT-END rc=1\n")
                .status()
                .message()
                .find("not JSON"),
            std::string::npos);
}

// busybox base64 wraps at 76 columns; the serial console adds \r.
TEST(GuestCaptureTest, TheArchiveBetweenTheMarkersIsDecoded) {
  auto bytes = ExtractCapture(
      "IOMMUVM-INSPECT-END rc=0\r\nIOMMUVM-CAPTURE-BEGIN\r\naGVsbG8g\r\nc3lzZnM=\r\n"
      "IOMMUVM-CAPTURE-END\r\n");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, "hello sysfs");
  EXPECT_NE(
      ExtractCapture("IOMMUVM-INSPECT-END rc=0\n").status().message().find("missing or cut short"),
      std::string::npos);
  EXPECT_NE(ExtractCapture("IOMMUVM-CAPTURE-BEGIN\naGVsbG8g\n[ 3.1] virtio_net: ok\n"
                           "IOMMUVM-CAPTURE-END\n")
                .status()
                .message()
                .find("not base64"),
            std::string::npos);
}

TEST(AcceleratorTest, KvmOnlyWhenTheDeviceOpensAndAProbeBootWorks) {
  int probes = 0;
  auto ok = [&] {
    ++probes;
    return absl::OkStatus();
  };
  Accelerator missing = ChooseAccelerator("/nonexistent/kvm", ok);
  EXPECT_EQ(missing.name, "tcg");
  EXPECT_EQ(missing.reason, "TCG: cannot open /nonexistent/kvm (No such file or directory)");
  EXPECT_EQ(probes, 0);  // no probe without a device
  // /dev/null stands in for a device node that opens read-write.
  Accelerator failed = ChooseAccelerator("/dev/null", [] {
    return absl::FailedPreconditionError("qemu killed by signal 6");
  });
  EXPECT_EQ(failed.name, "tcg");
  EXPECT_EQ(failed.reason,
            "TCG: /dev/null opens but a probe boot under KVM failed: qemu killed by signal 6");
  EXPECT_EQ(ChooseAccelerator("/dev/null", ok).name, "kvm");
}

TEST(VmCheckArgsTest, DefaultsFlagsAndErrors) {
  auto o = ParseVmCheckArgs({"--guest-dir", "/g", "--guest-iommu", "lazy", "--caching-mode",
                             "off", "--aw-bits", "39", "--memory", "2GiB", "--format", "json"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->vm.viommu(), "intel");
  EXPECT_EQ(o->vm.guest_iommu(), v1::IOMMU_MODE_LAZY);
  EXPECT_FALSE(o->vm.caching_mode());
  EXPECT_TRUE(o->vm.intremap());
  EXPECT_EQ(o->vm.aw_bits(), 39u);
  EXPECT_EQ(o->vm.memory_bytes(), 2ull << 30);
  EXPECT_EQ(o->vm.kernel(), "/g/vmlinuz");
  EXPECT_EQ(o->vm.initrd(), "/g/initrd.cpio");
  EXPECT_EQ(o->accel, "auto");
  EXPECT_TRUE(o->json);
  // QEMU runs in the run directory: every path it gets is absolute.
  auto relative =
      ParseVmCheckArgs({"--guest-dir", "g", "--run-dir", "runs/a", "--capture", "caps/intel-lazy"});
  ASSERT_TRUE(relative.ok()) << relative.status();
  std::string cwd = std::filesystem::current_path();
  EXPECT_EQ(relative->run_dir, cwd + "/runs/a");
  EXPECT_EQ(relative->vm.kernel(), cwd + "/g/vmlinuz");
  EXPECT_EQ(relative->vm.initrd(), cwd + "/g/initrd.cpio");
  EXPECT_EQ(relative->capture_dir, cwd + "/caps/intel-lazy");
  EXPECT_EQ(relative->vm.append(), "vmcheck.capture=1");  // tells the guest's init
  EXPECT_TRUE(o->capture_dir.empty());
  EXPECT_EQ(o->vm.append(), "");
  auto none = ParseVmCheckArgs({"--guest-dir", "/g", "--viommu", "none"});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->vm.guest_iommu(), v1::IOMMU_MODE_OFF);  // the only mode without a vIOMMU
  EXPECT_EQ(ParseVmCheckArgs({"--guest-dir", "/g", "--guest-iommu", "lazzy"}).status().message(),
            "--guest-iommu 'lazzy' is not one of off, passthrough, lazy, strict, current");
  EXPECT_EQ(ParseVmCheckArgs({"--guest-dir", "/g", "--caching-mode", "yes"}).status().message(),
            "--caching-mode 'yes' is not on or off");
  EXPECT_EQ(ParseVmCheckArgs({"--guest-dir", "/g", "--accel", "hvf"}).status().message(),
            "--accel 'hvf' is not auto, kvm or tcg");
  EXPECT_TRUE(absl::IsCancelled(ParseVmCheckArgs({"--help"}).status()));
}

}  // namespace
}  // namespace iommuvm::agent
