// scripts/bundle: the three programs with their libraries and loader run
// in a chroot that holds nothing but the unpacked bundle, a static busybox
// (for the launchers' /bin/sh) and a captured sysfs for `inspect` — no
// system library at all.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/command_runner.h"
#include "tests/support/process_harness.h"

namespace iommuvm::testing {
namespace {

TEST(BundleTest, RunsInAChrootWithoutAnySystemLibrary) {
  namespace fs = std::filesystem;
  LocalCommandRunner runner;
  if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root";
  if (!runner.Which("busybox").ok() ||
      Exec({"sh", "-c",
            "! readelf -l \"$(readlink -f \"$(command -v busybox)\")\" | grep -q INTERP"})
              .exit_code != 0) {
    GTEST_SKIP() << "no static busybox (busybox-static; scripts/setup installs it)";
  }
  Harness h;
  std::string tarball = h.dir() / "iommuvm.tar.gz";
  CommandResult bundled = MakeBundle(tarball);
  ASSERT_EQ(bundled.exit_code, 0) << bundled.err;

  std::string root = h.dir() / "root";
  fs::create_directories(root + "/bin");
  fs::create_directories(root + "/tmp");
  ASSERT_EQ(Exec({"tar", "-xzf", tarball, "-C", root}).exit_code, 0);
  fs::copy_file(*runner.Which("busybox"), root + "/bin/busybox");
  for (const char* applet : {"sh", "readlink", "dirname"}) {
    fs::create_symlink("busybox", root + "/bin/" + applet);
  }
  fs::create_directories(root + "/fx");
  ASSERT_EQ(
      Exec({"cp", "-a", IOMMUVM_SOURCE_DIR "/tests/fixtures/sysfs/intel-strict/.", root + "/fx/"})
          .exit_code,
      0);
  // Nothing but the bundle: no /lib, /lib64 or /usr to borrow from.
  for (const char* system : {"/lib", "/lib64", "/usr"}) EXPECT_FALSE(fs::exists(root + system));
  std::string bin = "/iommuvm-0.1.0-linux-x86_64/bin/";

  CommandResult cli = Exec({"chroot", root, bin + "iommuvm", "--help"});
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("usage: iommuvm"), std::string::npos) << cli.out;
  CommandResult agent_help = Exec({"chroot", root, bin + "iommuvm-agent", "--help"});
  EXPECT_NE((agent_help.out + agent_help.err).find("iommuvm-agent"), std::string::npos)
      << agent_help.out << agent_help.err;
  CommandResult inspect = Exec(
      {"chroot", root, bin + "iommuvm-agent", "inspect", "--sysroot", "/fx", "--format", "json"});
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("\"detected_mode\": \"strict\""), std::string::npos) << inspect.out;

  // The controller serves, and the bundled CLI talks to it.
  std::string address = absl::StrCat("127.0.0.1:", h.port());
  CommandSpec controller;
  controller.argv = {"chroot",    root,        bin + "iommuvm-controller",
                     "--listen",  address,     "--db",
                     "/tmp/c.db", "--metrics", ""};
  controller.log_path = h.dir() / "controller.log";
  auto process = runner.Start(controller);
  ASSERT_TRUE(process.ok()) << process.status();
  Daemon d{std::move(*process), controller.log_path};
  ASSERT_TRUE(d.WaitForLog("listening on", absl::Seconds(10))) << d.Log();
  CommandResult status = Exec({"chroot", root, bin + "iommuvm", "status", "--controller", address});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  d.process->Stop(absl::Seconds(5));
}

}  // namespace
}  // namespace iommuvm::testing
