// The grub drop-in: it wins over slicefix's appended lines, keeps glob
// characters literal, boots once with grub-reboot, and is refused without
// update-grub.
#include "agent/node/grub_boot.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "agent/node/boot_configurator.h"
#include "agent/node/iommu_probe.h"
#include "agent/node/sim_node.h"
#include "common/file_system.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/sysroot_builder.h"
#include "tests/unit/agent/node/node_test_support.h"

namespace iommuvm::agent {
namespace {

using ::iommuvm::testing::FakeCommandRunner;
using ::iommuvm::testing::SysrootBuilder;

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
  spec.argv = {"sh",
               "-c",
               ". \"$1\"; . \"$2\"; echo \"$GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT\"",
               "sh",
               fs.HostPath("/etc/default/grub"),
               fs.HostPath(kGrubDropIn)};
  auto r = sh.Run(spec);
  ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->err : r.status().ToString());
  EXPECT_EQ(r->out, "console=ttyS0,115200  quiet intel_iommu=on iommu.strict=1 mitigations=off\n");

  ASSERT_TRUE(grub->Reboot().ok());
  EXPECT_EQ(runner.ran.back(), "systemctl reboot");
}

// The kernel axis with grub: the drop-in also sets GRUB_DEFAULT to the
// entry grub.cfg has for the kernel's image (by id, in its submenu), or
// to the spec's grub_entry; a kernel grub.cfg does not know is refused
// before anything is written.
TEST(GrubBootTest, KernelAxisSetsTheDefaultEntryOfTheKernel) {
  SysrootBuilder b;
  b.File("/etc/default/grub", "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX=\"console=ttyS0 iommu=pt\"\n")
      .File("/proc/sys/kernel/osrelease", "6.1.0-26-amd64\n")
      .File("/boot/grub/grub.cfg",
            "submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option "
            "'gnulinux-advanced-u1' {\n"
            "\tmenuentry 'Debian GNU/Linux, with Linux 6.12.9-fns' $menuentry_id_option "
            "'gnulinux-6.12.9-fns-advanced-u1' {\n"
            "\t\tlinux\t/boot/vmlinuz-6.12.9-fns root=UUID=u1 ro\n"
            "\t}\n"
            "}\n");
  LocalFileSystem fs(b.root());
  FakeCommandRunner runner;
  runner.installed = {"update-grub"};
  auto grub = MakeGrubBoot(&fs, &runner);
  BootTarget t = Target(v1::IOMMU_MODE_CURRENT, "");
  t.kernel = {"6.12.9-fns", "6.12.9-fns", "", "", ""};
  ASSERT_TRUE(grub->CanReach(t).ok()) << grub->CanReach(t);
  ASSERT_TRUE(grub->Apply(t).ok());
  LocalCommandRunner sh;
  CommandSpec spec;
  spec.argv = {"sh",
               "-c",
               ". \"$1\"; . \"$2\"; echo \"$GRUB_DEFAULT|$GRUB_CMDLINE_LINUX\"",
               "sh",
               fs.HostPath("/etc/default/grub"),
               fs.HostPath(kGrubDropIn)};
  auto r = sh.Run(spec);
  ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->err : r.status().ToString());
  // Mode `current`: the file's own mode tokens stay.
  EXPECT_EQ(r->out,
            "gnulinux-advanced-u1>gnulinux-6.12.9-fns-advanced-u1|console=ttyS0 iommu=pt \n");

  t.kernel.grub_entry = "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux x";
  ASSERT_TRUE(grub->Apply(t).ok());
  EXPECT_TRUE(absl::StrContains(Read(fs, kGrubDropIn),
                                "GRUB_DEFAULT=\"Advanced options for Debian GNU/Linux>Debian "
                                "GNU/Linux, with Linux x\"\n"));

  BootTarget unknown = Target(v1::IOMMU_MODE_STRICT, "iommu.strict=1");
  unknown.kernel = {"hwe", "6.8.0-45-generic", "", "", ""};
  EXPECT_EQ(grub->CanReach(unknown).message(),
            "grub: no entry of /boot/grub/grub.cfg boots vmlinuz-6.8.0-45-generic (kernel hwe): is "
            "it installed? run update-grub, or give kernels.hwe.grub_entry");
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
  spec.argv = {"sh",
               "-c",
               ". \"$1\"; . \"$2\"; echo \"$GRUB_CMDLINE_LINUX|$GRUB_CMDLINE_LINUX_DEFAULT\"",
               "sh",
               fs.HostPath("/etc/default/grub"),
               fs.HostPath(kGrubDropIn)};
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
      .File("/etc/default/grub", "GRUB_DEFAULT=0\n")
      .File(kGrubCustomCfg, "menuentry 'rescue' {\n}\n");  // the user's own
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
  EXPECT_TRUE(absl::StartsWith(cfg, "menuentry 'rescue' {\n}\n")) << cfg;
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

// custom.cfg may hold the user's own entries: a one-shot switch changes
// only iommuvm's block, however often it runs.
TEST(GrubBootTest, OneShotKeepsTheUsersOwnCustomEntries) {
  std::string mine = "menuentry 'rescue' {\n  linux /vmlinuz single\n}\n";
  std::string once = WithOneShotEntry(mine, GrubOneShotEntry("u", "/vmlinuz-a", "", "x=1"));
  std::string twice = WithOneShotEntry(once, GrubOneShotEntry("u", "/vmlinuz-b", "", "x=2"));
  EXPECT_TRUE(absl::StartsWith(twice, mine)) << twice;
  EXPECT_EQ(twice.find("/vmlinuz-a"), std::string::npos) << twice;
  EXPECT_NE(twice.find("/vmlinuz-b x=2"), std::string::npos) << twice;
  size_t first = twice.find("--id iommuvm-next");
  EXPECT_EQ(twice.find("--id iommuvm-next", first + 1), std::string::npos) << twice;
  EXPECT_EQ(WithoutOneShotEntry(twice), mine);
  EXPECT_EQ(WithoutOneShotEntry(WithOneShotEntry("", "menuentry --id iommuvm-next {}\n")), "");
  // What versions before the markers wrote: the whole file was iommuvm's.
  EXPECT_EQ(WithoutOneShotEntry(GrubOneShotEntry("u", "/k", "", "x")), "");
  EXPECT_EQ(WithoutOneShotEntry(mine), mine);
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

}  // namespace
}  // namespace iommuvm::agent
