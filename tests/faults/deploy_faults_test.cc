// `iommuvm deploy` when the node's disk is full or the SSH connection drops
// in the middle of the copy: one line naming the node and the cause, the
// release in use untouched and its agent still registered, and a rerun
// finishes the job.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_system.h"
#include "tests/support/process_harness.h"
#include "tests/support/scratch_disks.h"
#include "tests/support/ssh_node.h"

namespace iommuvm::testing {
namespace {

// The bundle at `from` repacked with `extra_mib` MiB of random data: another
// release of the same programs.
std::string Variant(const ScratchDir& dir, const std::string& from, const std::string& name,
                    int extra_mib) {
  std::string unpacked = dir / (name + "-tree");
  std::filesystem::create_directories(unpacked);
  EXPECT_EQ(Exec({"tar", "-xzf", from, "-C", unpacked}).exit_code, 0);
  std::string top = std::filesystem::directory_iterator(unpacked)->path().filename().string();
  EXPECT_EQ(Exec({"dd", "if=/dev/urandom", absl::StrCat("of=", unpacked, "/", top, "/share/", name),
                  "bs=1M", absl::StrCat("count=", extra_mib)})
                .exit_code,
            0);
  // Its file list, as scripts/bundle writes it.
  EXPECT_EQ(Exec({"sh", "-c",
                  absl::StrCat("cd ", unpacked, "/", top,
                               " && find . -type f ! -path ./share/files.sha256 | "
                               "sed 's|^\\./||' | LC_ALL=C sort | xargs sha256sum > "
                               "share/files.sha256")})
                .exit_code,
            0);
  std::string out = dir / (name + ".tar.gz");
  EXPECT_EQ(
      Exec({"sh", "-c", absl::StrCat("tar -C ", unpacked, " -cf - ", top, " | gzip -1 > ", out)})
          .exit_code,
      0);
  return out;
}

TEST(DeployFaultsTest, AFullDiskOrADroppedCopyLeavesTheReleaseInUse) {
  if (::geteuid() != 0) GTEST_SKIP() << "the sshd node logs in as root; tmpfs needs root";
  Harness h;
  SshNode node(h.dir().path(), "node1");
  absl::Status started = node.Start();
  if (absl::IsFailedPrecondition(started)) GTEST_SKIP() << started;
  ASSERT_TRUE(started.ok()) << started;
  std::string bundle_a = h.dir() / "a.tar.gz";
  ASSERT_EQ(MakeBundle(bundle_a).exit_code, 0);
  Daemon controller = h.StartController();
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10)));
  std::string inventory = h.WriteFile(
      "nodes.yaml",
      absl::StrCat("nodes:\n  - id: node1\n    host: 127.0.0.1\n    port: ", node.port(),
                   "\n    user: root\n    roles: [server]\n    root: ", node.root(), "\n"));
  auto deploy = [&](const std::string& bundle) {
    return h.Cli({"deploy", "--inventory", inventory, "--bundle", bundle, "--identity",
                  SshNode::ClientKey(h.dir().path()), "--known-hosts", h.dir() / "known_hosts",
                  "--accept-new-host-keys", "--wait", "60s"});
  };
  LocalFileSystem fs;
  auto current = [&] { return fs.ReadLink(node.root() + "/opt/iommuvm/current").value_or(""); };
  // A full disk (8 MiB for a 14 MB bundle): one line naming the node and
  // the cause, and nothing half-installed.
  {
    std::unique_ptr<SmallDisk> disk;
    SmallDisk::Mount(node.root() + "/opt/iommuvm", &disk);
    if (!disk) return;  // skipped
    CommandResult full = deploy(bundle_a);
    EXPECT_EQ(full.exit_code, 1) << full.out;
    EXPECT_TRUE(absl::StrContains(full.out, "node1")) << full.out;
    EXPECT_TRUE(absl::StrContains(full.out, "the disk is full")) << full.out;
    EXPECT_EQ(current(), "");
    EXPECT_FALSE(fs.Exists(node.root() + "/etc/default/iommuvm-agent"));
    EXPECT_EQ(
        fs.ListDir(node.root() + "/opt/iommuvm/releases").value_or(std::vector<std::string>{}),
        std::vector<std::string>{});
  }
  // Room again: the rerun finishes.
  CommandResult rerun = deploy(bundle_a);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.out << rerun.err;
  std::string release_a = current();
  ASSERT_FALSE(release_a.empty());

  // An upgrade sends only what changed.
  std::string bundle_b = Variant(h.dir(), bundle_a, "b", 1);
  CommandResult upgraded = h.Cli({"deploy", "--inventory", inventory, "--bundle", bundle_b,
                                  "--identity", SshNode::ClientKey(h.dir().path()), "--known-hosts",
                                  h.dir() / "known_hosts", "--format", "json"});
  ASSERT_EQ(upgraded.exit_code, 0) << upgraded.out << upgraded.err;
  EXPECT_TRUE(absl::StrContains(upgraded.out, "\"sent\": \"1 of ")) << upgraded.out;
  std::string release_b = current();
  EXPECT_NE(release_b, release_a);
  EXPECT_TRUE(fs.Exists(node.root() + "/opt/iommuvm/current/share/b"));
  EXPECT_TRUE(fs.Exists(node.root() + "/opt/iommuvm/current/bin/iommuvm-agent"));

  // The link drops while a big bundle is being copied.
  std::string bundle_c = Variant(h.dir(), bundle_a, "c", 150);
  CommandSpec spec;
  spec.argv = {IOMMUVM_CLI_BIN, "deploy",
               "--inventory",   inventory,
               "--bundle",      bundle_c,
               "--identity",    SshNode::ClientKey(h.dir().path()),
               "--known-hosts", h.dir() / "known_hosts",
               "--controller",  h.address(),
               "--wait",        "60s"};
  spec.log_path = h.dir() / "dropped.log";
  LocalCommandRunner runner;
  auto p = *runner.Start(spec);
  bool dropped = false;
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline && p->Running()) {
    // The changed files arrive in a hidden copy of the release in use.
    std::error_code ec;
    for (const auto& e :
         std::filesystem::directory_iterator(node.root() + "/opt/iommuvm/releases", ec)) {
      if (e.path().filename().string()[0] == '.' &&
          std::filesystem::file_size(e.path() / "share/c", ec) > (8u << 20) && !ec) {
        node.DropConnections();
        dropped = true;
      }
    }
    if (dropped) break;
    absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_TRUE(dropped) << "the copy ended before it could be cut";
  while (p->Running()) absl::SleepFor(absl::Milliseconds(50));
  std::string log = fs.ReadFile(spec.log_path).value_or("");
  EXPECT_TRUE(absl::StrContains(log, "node1")) << log;
  EXPECT_TRUE(absl::StrContains(log, "failed")) << log;
  EXPECT_EQ(current(), release_b);
  CommandResult agents = h.Cli({"agents", "--format", "csv"});
  EXPECT_TRUE(absl::StrContains(agents.out, "node1,server,READY")) << agents.out;
  CommandResult finished = deploy(bundle_c);
  EXPECT_EQ(finished.exit_code, 0) << finished.out << finished.err;
  EXPECT_NE(current(), release_b);

  int pid = 0;
  if (absl::SimpleAtoi(fs.ReadFile(node.root() + "/run/iommuvm-agent.pid").value_or(""), &pid)) {
    ::kill(pid, SIGKILL);
  }
}

}  // namespace
}  // namespace iommuvm::testing
