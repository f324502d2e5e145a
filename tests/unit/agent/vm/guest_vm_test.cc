// GuestVm's wiring around QEMU, on a sysroot and a runner that starts
// nothing: what it hands the guest and what it takes back.
#include "agent/vm/guest_vm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "common/clock.h"
#include "common/file_system.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/sysroot_builder.h"
#include "tls/certificate_authority.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::FakeCommandRunner;
using ::iommuvm::testing::SysrootBuilder;

std::string Read(const FileSystem& fs, const std::string& path) {
  return fs.ReadFile(path).value_or("<missing>");
}

// A VF guest whose QEMU cannot start: the VF was enabled, given the run's
// MAC and bound to vfio-pci before QEMU was asked to take it, and all of
// it is given back when the launch fails — nothing stays enabled, bound or
// recorded.
TEST(GuestVmTest, AVfGuestThatCannotStartGivesItsVfBack) {
  SysrootBuilder b;
  b.Device("0000:ca:00.0", "mlx5_core", "14", "DMA")
      .File("/sys/devices/pci0000:00/0000:ca:00.0/sriov_totalvfs", "8\n")
      .File("/sys/devices/pci0000:00/0000:ca:00.0/sriov_numvfs", "0\n")
      .Device("0000:ca:00.2", "", "40", "DMA")
      .Symlink("/sys/devices/pci0000:00/0000:ca:00.0/virtfn0", "../0000:ca:00.2")
      .File("/sys/bus/pci/drivers/vfio-pci/bind", "")
      .Nic("ens1f0", "0000:ca:00.0")
      .File("/guest/vmlinuz", "kernel")
      .File("/guest/initrd.cpio", "initrd")
      .Dir("/runs/7");
  LocalFileSystem fs(b.root());
  FakeCommandRunner runner;
  runner.installed = {"ip", "qemu-system-x86_64"};
  runner.Answer("qemu-system-x86_64 --version", "QEMU emulator version 7.2.22\n");
  Vfio vfio(&fs, &fs, "/state", "");
  FakeClock clock;
  GuestHost host;
  host.host_id = "sut";
  host.controller_address = "10.9.0.1:7070";
  host.guest_address = "10.9.1.5/24";  // on the data network: no bridge for a VF
  host.data_nic = "ens1f0";
  host.vfio = &vfio;
  v1::LaunchVm launch;
  launch.set_guest_id("sut/vf");
  v1::VmConfig* vm = launch.mutable_vm();
  vm->set_viommu("intel");
  vm->set_caching_mode(true);
  vm->set_intremap(true);
  vm->set_guest_iommu(v1::IOMMU_MODE_STRICT);
  vm->set_nic("vfio-vf");
  vm->set_accel("tcg");
  vm->set_kernel("/guest/vmlinuz");
  vm->set_initrd("/guest/initrd.cpio");

  GuestVm guest(&runner, &fs, &clock);
  auto out = guest.Launch(launch, host, 7, "/runs/7", absl::Seconds(5), nullptr);
  ASSERT_FALSE(out.ok());
  EXPECT_TRUE(absl::StrContains(out.status().message(), "cannot start")) << out.status();
  // Assigned before QEMU: the MAC through the PF, QEMU given the VF.
  EXPECT_NE(std::find(runner.ran.begin(), runner.ran.end(),
                      "ip link set ens1f0 vf 0 mac 52:54:a0:00:00:07"),
            runner.ran.end())
      << ::testing::PrintToString(runner.ran);
  EXPECT_TRUE(std::any_of(runner.ran.begin(), runner.ran.end(), [](const std::string& c) {
    return absl::StrContains(c, "-device vfio-pci,host=0000:ca:00.2,bus=rp1");
  })) << ::testing::PrintToString(runner.ran);
  // ... and given back.
  EXPECT_EQ(Read(fs, "/sys/devices/pci0000:00/0000:ca:00.0/sriov_numvfs"), "0");
  EXPECT_EQ(Read(fs, "/sys/devices/pci0000:00/0000:ca:00.2/driver_override"), "\n");
  EXPECT_EQ(Read(fs, "/state/vfio_bindings"), "");
  EXPECT_EQ(Read(fs, "/state/vfio_created_vfs"), "");
}

// Under mutual TLS a guest registers with its host's certificate: the host
// puts it in front of the guest's initramfs, and tells the guest which name
// the controller's certificate carries.
TEST(GuestVmTest, AGuestGetsItsHostsCertificateInItsInitramfs) {
  char tmpl[] = "/tmp/iommuvm-guest-tls-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  ASSERT_TRUE(tls::InitAuthority(dir + "/ca", {}).ok());
  ASSERT_TRUE(tls::IssueCertificate(dir + "/ca", tls::PeerKind::kAgent, "sut").ok());
  LocalFileSystem fs;
  ASSERT_TRUE(fs.WriteFile(dir + "/initrd.cpio", "IMAGE").ok());
  GuestHost host;
  host.host_id = "sut";
  host.controller_address = "10.9.0.1:7070";
  host.tls_dir = dir + "/ca";
  auto path = InitrdWithCertificate(&fs, host, dir + "/initrd.cpio", dir);
  ASSERT_TRUE(path.ok()) << path.status();
  std::string combined = fs.ReadFile(*path).value_or("");
  EXPECT_TRUE(absl::StartsWith(combined, "070701"));
  EXPECT_TRUE(absl::EndsWith(combined, "IMAGE"));
  EXPECT_TRUE(absl::StrContains(combined, "etc/iommuvm/tls/agent-sut.key"));
  struct stat st {};
  ASSERT_EQ(stat(path->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(
      absl::StrContains(GuestAgentParams(host, "sut/vm", "m1", "m2"), "iommuvm.tls_name=10.9.0.1"));
  host.tls_dir.clear();
  EXPECT_FALSE(absl::StrContains(GuestAgentParams(host, "sut/vm", "m1", "m2"), "tls_name"));
  host.tls_dir = dir + "/nowhere";
  EXPECT_THAT(InitrdWithCertificate(&fs, host, dir + "/initrd.cpio", dir).status().message(),
              ::testing::HasSubstr("nowhere/ca.crt"));
  (void)fs.RemoveAll(dir);
}

}  // namespace
}  // namespace iommuvm::agent
