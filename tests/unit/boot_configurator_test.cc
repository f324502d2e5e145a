#include "agent/node/boot_configurator.h"

#include <gtest/gtest.h>

#include "agent/node/grub_boot.h"
#include "agent/node/iommu_probe.h"
#include "agent/node/sim_node.h"
#include "common/file_system.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/sysroot_builder.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::FakeCommandRunner;
using ::iommuvm::testing::SysrootBuilder;

BootTarget Target(v1::IommuMode mode, std::string tokens, std::string extra = "") {
  BootTarget t;
  t.mode = mode;
  t.tokens = std::move(tokens);
  t.extra_cmdline = std::move(extra);
  return t;
}

std::string Read(const FileSystem& fs, const std::string& path) {
  auto s = fs.ReadFile(path);
  return s.ok() ? *s : "<missing>";
}

TEST(NextCmdlineTest, ReplacesModeTokensAndKeepsTheRest) {
  BootTarget t = Target(v1::IOMMU_MODE_STRICT, "intel_iommu=on iommu.strict=1", "mitigations=off");
  std::string once = NextCmdline(
      "BOOT_IMAGE=/vmlinuz-6.1.0 root=UUID=abc ro intel_iommu=on iommu=pt console=ttyS0", t);
  EXPECT_EQ(once,
            "BOOT_IMAGE=/vmlinuz-6.1.0 root=UUID=abc ro console=ttyS0 intel_iommu=on "
            "iommu.strict=1 mitigations=off");
  // Switching again neither duplicates the extra tokens nor keeps old ones.
  BootTarget pt = Target(v1::IOMMU_MODE_PASSTHROUGH, "intel_iommu=on iommu=pt", "mitigations=off");
  EXPECT_EQ(NextCmdline(once, pt),
            "BOOT_IMAGE=/vmlinuz-6.1.0 root=UUID=abc ro console=ttyS0 intel_iommu=on iommu=pt "
            "mitigations=off");
}

// The drop-in is real shell: source /etc/default/grub (with CloudLab's
// slicefix line appended, which sets IOMMU tokens of its own) and then the
// drop-in, as grub-mkconfig does, and look at the kernel line it yields.
TEST(GrubBootTest, DropInWinsOverSlicefixAppendedLines) {
  SysrootBuilder b;
  b.File("/etc/default/grub",
         "GRUB_DEFAULT=0\n"
         "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet iommu.strict=0\"\n"
         "GRUB_CMDLINE_LINUX=\"console=ttyS0,115200\"\n"
         "# Added by slicefix\n"
         "GRUB_CMDLINE_LINUX=\"console=ttyS0,115200 intel_iommu=on iommu=pt\"\n");
  LocalFileSystem fs(b.root());
  FakeCommandRunner runner;
  runner.installed = {"update-grub", "systemctl"};
  auto grub = MakeGrubBoot(&fs, &runner);
  BootTarget t = Target(v1::IOMMU_MODE_STRICT, "intel_iommu=on iommu.strict=1", "mitigations=off");
  ASSERT_TRUE(grub->CanReach(t).ok());
  auto outcome = grub->Apply(t);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, SwitchOutcome::kRebootRequired);
  EXPECT_EQ(runner.ran, std::vector<std::string>{"update-grub"});
  std::string dropin = Read(fs, kGrubDropIn);
  EXPECT_NE(dropin.find("Managed by iommuvm-agent"), std::string::npos);

  LocalCommandRunner sh;
  CommandSpec spec;
  spec.argv = {"sh", "-c",
               ". \"$1\"; . \"$2\"; echo \"$GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT\"", "sh",
               fs.HostPath("/etc/default/grub"), fs.HostPath(kGrubDropIn)};
  auto r = sh.Run(spec);
  ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->err : r.status().ToString());
  EXPECT_EQ(r->out,
            "console=ttyS0,115200  quiet intel_iommu=on iommu.strict=1 mitigations=off\n");

  ASSERT_TRUE(grub->Reboot().ok());
  EXPECT_EQ(runner.ran.back(), "systemctl reboot");
}

// Kernel parameters may hold glob characters (ivrs_ioapic[32]=..., a bare
// `*`): the drop-in must treat them as words, neither as case patterns
// that strip other tokens nor as file names expanded by the shell.
TEST(GrubBootTest, DropInKeepsTokensWithGlobCharactersLiteral) {
  SysrootBuilder b;
  b.File("/etc/default/grub",
         "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n"
         "GRUB_CMDLINE_LINUX=\"console=ttyS0,115200 ivrs_ioapic[32]=00:14.0 x=1\"\n")
      .File("/cwd/a-file", "")
      .File("/cwd/x=1", "");
  BootTarget t = Target(v1::IOMMU_MODE_STRICT, "iommu.strict=1", "ivrs_ioapic[32]=00:14.0 *");
  std::string dropin = GrubDropIn(t);
  LocalFileSystem fs(b.root());
  ASSERT_TRUE(fs.WriteFile(kGrubDropIn, dropin).ok());
  LocalCommandRunner sh;
  CommandSpec spec;
  spec.cwd = b.root() + "/cwd";  // files a glob would find
  spec.argv = {"sh", "-c",
               ". \"$1\"; . \"$2\"; echo \"$GRUB_CMDLINE_LINUX|$GRUB_CMDLINE_LINUX_DEFAULT\"", "sh",
               fs.HostPath("/etc/default/grub"), fs.HostPath(kGrubDropIn)};
  auto r = sh.Run(spec);
  ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->err : r.status().ToString());
  EXPECT_EQ(r->out, "console=ttyS0,115200 x=1 |quiet iommu.strict=1 ivrs_ioapic[32]=00:14.0 *\n");
}

// One-shot: an entry in /boot/grub/custom.cfg booted once by grub-reboot;
// /etc/default/grub and the default entry stay as they are.
TEST(GrubBootTest, OneShotEntryIsBootedOnceByGrubReboot) {
  SysrootBuilder b;
  b.Cmdline("BOOT_IMAGE=/vmlinuz-6.1.0-26-amd64 root=UUID=aaaa ro quiet iommu.strict=1")
      .File("/proc/sys/kernel/osrelease", "6.1.0-26-amd64\n")
      .File("/boot/vmlinuz-6.1.0-26-amd64", "kernel")
      .File("/boot/initrd.img-6.1.0-26-amd64", "initrd")
      .File("/etc/default/grub", "GRUB_DEFAULT=0\n");
  LocalFileSystem fs(b.root());
  FakeCommandRunner runner;
  BootTarget t = Target(v1::IOMMU_MODE_PASSTHROUGH, "intel_iommu=on iommu=pt");
  t.grub_one_shot = true;
  auto grub = MakeGrubBoot(&fs, &runner);
  runner.installed = {"update-grub", "grub-reboot", "grub-probe"};
  EXPECT_EQ(grub->CanReach(t).message(), "grub: grub-mkrelpath is not installed");
  runner.installed.insert("grub-mkrelpath");
  ASSERT_TRUE(grub->CanReach(t).ok());
  runner.Answer("grub-probe --target=fs_uuid " + b.root() + "/boot/vmlinuz-6.1.0-26-amd64",
                "3f1c-77aa\n");
  runner.Answer("grub-mkrelpath " + b.root() + "/boot/vmlinuz-6.1.0-26-amd64",
                "/vmlinuz-6.1.0-26-amd64\n");
  runner.Answer("grub-mkrelpath " + b.root() + "/boot/initrd.img-6.1.0-26-amd64",
                "/initrd.img-6.1.0-26-amd64\n");
  auto outcome = grub->Apply(t);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(runner.ran.back(), "grub-reboot iommuvm-next");
  std::string cfg = Read(fs, kGrubCustomCfg);
  EXPECT_NE(cfg.find("menuentry 'iommuvm: next boot' --id iommuvm-next {"), std::string::npos);
  EXPECT_NE(cfg.find("  search --no-floppy --fs-uuid --set=root 3f1c-77aa\n"), std::string::npos);
  EXPECT_NE(cfg.find("  linux /vmlinuz-6.1.0-26-amd64 root=UUID=aaaa ro quiet intel_iommu=on "
                     "iommu=pt\n"),
            std::string::npos)
      << cfg;
  EXPECT_NE(cfg.find("  initrd /initrd.img-6.1.0-26-amd64\n"), std::string::npos);
  EXPECT_EQ(Read(fs, kGrubDropIn), "<missing>");  // the default is untouched
  for (const auto& cmd : runner.ran) EXPECT_NE(cmd, "update-grub");
}

TEST(GrubBootTest, RefusedWithoutUpdateGrubOrItsConfig) {
  SysrootBuilder b;
  LocalFileSystem fs(b.root());
  FakeCommandRunner runner;
  auto grub = MakeGrubBoot(&fs, &runner);
  EXPECT_EQ(grub->CanReach({}).message(), "grub: update-grub is not installed");
  runner.installed = {"update-grub"};
  EXPECT_EQ(grub->CanReach({}).message(), "grub: /etc/default/grub does not exist");
}

TEST(KexecBootTest, LoadsTheRunningKernelWithTheNewCmdline) {
  SysrootBuilder b;
  b.Cmdline("BOOT_IMAGE=/boot/vmlinuz-6.1.0-26-amd64 root=/dev/sda1 ro iommu.strict=1")
      .File("/proc/sys/kernel/osrelease", "6.1.0-26-amd64\n")
      .File("/boot/vmlinuz-6.1.0-26-amd64", "kernel")
      .File("/boot/initrd.img-6.1.0-26-amd64", "initrd");
  LocalFileSystem fs(b.root());
  FakeCommandRunner runner;
  std::vector<std::string> methods = {"kexec"};
  BootTarget t = Target(v1::IOMMU_MODE_PASSTHROUGH, "intel_iommu=on iommu=pt");
  EXPECT_EQ(ChooseBootConfigurator(methods, t, &fs, &runner, {}).status().message(),
            "no switch method can reach this mode: kexec: kexec-tools is not installed");
  runner.installed = {"kexec"};
  auto kexec = ChooseBootConfigurator(methods, t, &fs, &runner, {});
  ASSERT_TRUE(kexec.ok()) << kexec.status();
  auto outcome = (*kexec)->Apply(t);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, SwitchOutcome::kRebootRequired);
  ASSERT_EQ(runner.ran.size(), 1u);
  EXPECT_EQ(runner.ran[0],
            "kexec -l " + b.root() + "/boot/vmlinuz-6.1.0-26-amd64 --initrd=" + b.root() +
                "/boot/initrd.img-6.1.0-26-amd64 --command-line=BOOT_IMAGE=/boot/"
                "vmlinuz-6.1.0-26-amd64 root=/dev/sda1 ro intel_iommu=on iommu=pt");
  ASSERT_TRUE((*kexec)->Reboot().ok());
  EXPECT_EQ(runner.ran.back(), "kexec -e");  // no systemd here
  runner.results["kexec"].exit_code = 1;
  runner.results["kexec"].err = "kexec_load failed: Operation not permitted";
  EXPECT_NE((*kexec)->Apply(t).status().message().find("Operation not permitted"),
            std::string::npos);
}

// A ConnectX-6 port (two functions in group 14) retyped in place.
TEST(SysfsBootTest, UnbindsRetypesAndRebindsTheNicGroup) {
  SysrootBuilder b;
  b.Cmdline("intel_iommu=on iommu.strict=1").Unit("dmar0")
      .File("/proc/sys/kernel/osrelease", "6.1.0-26-amd64\n")
      .Device("0000:00:00.0", "", "0", "DMA")
      .Device("0000:ca:00.0", "mlx5_core", "14", "DMA")
      .Device("0000:ca:00.1", "mlx5_core", "14", "DMA")
      .Nic("enp202s0f0np0", "0000:ca:00.0");
  LocalFileSystem fs(b.root());
  FakeCommandRunner runner;
  BootTarget t = Target(v1::IOMMU_MODE_PASSTHROUGH, "");
  t.data_nic = "enp202s0f0np0";
  auto sysfs = ChooseBootConfigurator({"sysfs", "kexec"}, t, &fs, &runner, {});
  ASSERT_TRUE(sysfs.ok()) << sysfs.status();
  EXPECT_EQ((*sysfs)->method(), "sysfs");
  auto outcome = (*sysfs)->Apply(t);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(*outcome, SwitchOutcome::kSwitchedInPlace);
  EXPECT_EQ(Read(fs, "/sys/kernel/iommu_groups/14/type"), "identity");
  EXPECT_EQ(Read(fs, "/sys/kernel/iommu_groups/0/type"), "DMA\n");  // untouched
  // Both functions were unbound and bound back (the last one written wins).
  EXPECT_EQ(Read(fs, "/sys/bus/pci/drivers/mlx5_core/unbind"), "0000:ca:00.1");
  EXPECT_EQ(Read(fs, "/sys/bus/pci/drivers/mlx5_core/bind"), "0000:ca:00.1");
  IommuProbe p = ProbeIommu(fs, "", false, "enp202s0f0np0");
  EXPECT_EQ(p.detected, "mixed");
  EXPECT_EQ(CheckMode(p, v1::IOMMU_MODE_PASSTHROUGH), "");
  EXPECT_TRUE(runner.ran.empty());
}

TEST(SysfsBootTest, RefusesOffOldKernelsAndFallsBack) {
  SysrootBuilder b;
  b.Cmdline("intel_iommu=on").Unit("dmar0").File("/proc/sys/kernel/osrelease", "5.12.0\n")
      .Device("0000:ca:00.0", "mlx5_core", "14", "DMA").Nic("eth2", "0000:ca:00.0")
      .File("/boot/vmlinuz-5.12.0", "kernel");
  LocalFileSystem fs(b.root());
  FakeCommandRunner runner;
  auto off = ChooseBootConfigurator({"sysfs"}, Target(v1::IOMMU_MODE_OFF, "intel_iommu=off"),
                                    &fs, &runner, {});
  EXPECT_EQ(off.status().message(),
            "no switch method can reach this mode: sysfs: cannot turn the IOMMU off in place; "
            "that needs a reboot (kexec or grub)");
  auto lazy = ChooseBootConfigurator({"sysfs"}, Target(v1::IOMMU_MODE_LAZY, ""), &fs, &runner, {});
  EXPECT_NE(lazy.status().message().find("kernel 5.12 cannot set group type DMA-FQ (needs 5.15)"),
            std::string::npos);
  runner.installed = {"kexec"};
  auto fallback = ChooseBootConfigurator({"sysfs", "kexec"}, Target(v1::IOMMU_MODE_OFF, "intel_iommu=off"),
                                         &fs, &runner, {});
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_EQ((*fallback)->method(), "kexec");
}

// The simulated node presents each mode the way the real captures do, so
// the probe classifies it like a real node.
TEST(SimNodeTest, EveryModeLooksLikeTheRealKernel) {
  struct Case {
    const char* vendor;
    bool caching_mode;
    const char* cmdline;
    const char* detected;
  };
  const Case cases[] = {
      {"intel", false, "console=ttyS0 intel_iommu=off", "off"},
      {"intel", false, "console=ttyS0 iommu.strict=1", "off"},  // no intel_iommu=on
      {"intel", false, "console=ttyS0 intel_iommu=on iommu=pt", "passthrough"},
      {"intel", false, "console=ttyS0 intel_iommu=on iommu.strict=0", "lazy"},
      {"intel", false, "console=ttyS0 intel_iommu=on", "lazy"},  // built-in default
      {"intel", false, "console=ttyS0 intel_iommu=on iommu.strict=1", "strict"},
      {"intel", true, "console=ttyS0 intel_iommu=on iommu.strict=0", "strict"},
      {"amd", false, "console=ttyS0", "lazy"},
      {"amd", false, "console=ttyS0 amd_iommu=off", "off"},
      {"amd", false, "console=ttyS0 iommu=pt", "passthrough"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.vendor) + (c.caching_mode ? " cm " : " ") + c.cmdline);
    SysrootBuilder b;
    LocalFileSystem fs(b.root());
    ASSERT_TRUE(SimBoot(&fs, c.cmdline, {c.vendor, c.caching_mode}).ok());
    std::string log = Read(fs, "/dmesg.txt");
    IommuProbe p = ProbeIommu(fs, log, true, "");
    EXPECT_EQ(p.detected, c.detected);
    EXPECT_EQ(p.data_nic.name, "eth0");
    EXPECT_EQ(Read(fs, "/proc/cmdline"), std::string(c.cmdline) + "\n");
  }
}

TEST(SimNodeTest, RebootGetsANewBootIdAndSysfsRetypesInPlace) {
  SysrootBuilder b;
  LocalFileSystem fs(b.root());
  ASSERT_TRUE(SimBoot(&fs, "intel_iommu=on iommu.strict=1", {}).ok());
  std::string first_boot = Read(fs, "/proc/sys/kernel/random/boot_id");
  BootMethodsConfig sim;
  sim.simulate = true;
  FakeCommandRunner runner;
  BootTarget pt = Target(v1::IOMMU_MODE_PASSTHROUGH, "intel_iommu=on iommu=pt");
  auto kexec = ChooseBootConfigurator({"kexec"}, pt, &fs, &runner, sim);
  ASSERT_TRUE(kexec.ok());
  EXPECT_EQ((*kexec)->method(), "sim-kexec");
  ASSERT_EQ(*(*kexec)->Apply(pt), SwitchOutcome::kRebootRequired);
  EXPECT_EQ(Read(fs, "/proc/cmdline"), "intel_iommu=on iommu.strict=1\n");  // not yet
  ASSERT_TRUE((*kexec)->Reboot().ok());  // no restart argv: just the new sysroot
  EXPECT_NE(Read(fs, "/proc/sys/kernel/random/boot_id"), first_boot);
  EXPECT_EQ(ProbeIommu(fs, Read(fs, "/dmesg.txt"), true, "").detected, "passthrough");

  BootTarget strict = Target(v1::IOMMU_MODE_STRICT, "");
  auto sysfs = ChooseBootConfigurator({"sysfs"}, strict, &fs, &runner, sim);
  ASSERT_TRUE(sysfs.ok());
  ASSERT_EQ(*(*sysfs)->Apply(strict), SwitchOutcome::kSwitchedInPlace);
  IommuProbe p = ProbeIommu(fs, Read(fs, "/dmesg.txt"), true, "");
  EXPECT_EQ(p.detected, "mixed");
  EXPECT_EQ(p.data_mode, "strict");
  EXPECT_TRUE(runner.ran.empty());
}

TEST(SimNodeTest, RefusesTheRealRoot) {
  LocalFileSystem root("/");
  EXPECT_FALSE(SimBoot(&root, "intel_iommu=on", {}).ok());
}

}  // namespace
}  // namespace iommuvm::agent
