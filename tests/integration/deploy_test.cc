// `iommuvm deploy` and `undeploy` against real sshd instances on loopback,
// each a "node" with its own root: the bundle installed over SSH, the
// agents started with their certificates and registered, an experiment
// run on them, an unchanged redeploy that copies and restarts nothing,
// refused host keys and client keys, an unreachable node, and undeploy
// giving each node back what it had.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_system.h"
#include "tests/support/process_harness.h"
#include "tests/support/ssh_node.h"
#include "tests/support/systemd_node.h"

namespace iommuvm::testing {
namespace {

class DeployTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the sshd nodes log in as root";
    for (const char* name : {"node1", "node2"}) {
      nodes_.push_back(std::make_unique<SshNode>(h_.dir().path(), name));
      absl::Status s = nodes_.back()->Start();
      if (absl::IsFailedPrecondition(s)) GTEST_SKIP() << s;
      ASSERT_TRUE(s.ok()) << s;
    }
    bundle_ = h_.dir() / "iommuvm.tar.gz";
    CommandResult bundled = MakeBundle(bundle_);
    ASSERT_EQ(bundled.exit_code, 0) << bundled.err;
    ASSERT_NO_FATAL_FAILURE(h_.UseTls());
    controller_ = h_.StartController();
    ASSERT_TRUE(controller_.WaitForLog("listening on", absl::Seconds(10))) << controller_.Log();
  }

  void TearDown() override {
    // Agents deploy started directly outlive their sshd: stop them.
    LocalFileSystem fs;
    for (const auto& n : nodes_) {
      int pid = 0;
      if (absl::SimpleAtoi(fs.ReadFile(n->root() + "/run/iommuvm-agent.pid").value_or(""), &pid) &&
          pid > 0) {
        ::kill(pid, SIGKILL);
      }
    }
  }

  std::string Inventory(const std::vector<std::pair<std::string, int>>& extra = {}) {
    std::string text = "defaults:\n  user: root\n  data_address: 127.0.0.1\nnodes:\n";
    for (size_t i = 0; i < nodes_.size(); ++i) {
      absl::StrAppend(&text, "  - id: ", nodes_[i]->name(),
                      "\n    host: 127.0.0.1\n    port: ", nodes_[i]->port(), "\n    roles: [",
                      i == 0 ? "server" : "client",
                      "]\n    labels: {site: loopback}\n    root: ", nodes_[i]->root(), "\n");
    }
    for (const auto& [id, port] : extra) {
      absl::StrAppend(&text, "  - id: ", id, "\n    host: 127.0.0.1\n    port: ", port,
                      "\n    roles: [client]\n    root: ", h_.dir() / id, "\n");
    }
    return h_.WriteFile("nodes.yaml", text);
  }

  CommandResult Deploy(const std::string& inventory, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"deploy",
                                     "--inventory",
                                     inventory,
                                     "--bundle",
                                     bundle_,
                                     "--identity",
                                     SshNode::ClientKey(h_.dir().path()),
                                     "--known-hosts",
                                     h_.dir() / "known_hosts",
                                     "--wait",
                                     "60s"};
    args.insert(args.end(), extra.begin(), extra.end());
    return h_.Cli(args);
  }

  Harness h_;
  std::vector<std::unique_ptr<SshNode>> nodes_;
  std::string bundle_;
  Daemon controller_;
};

TEST_F(DeployTest, DeploysRunsRedeploysAndUndeploys) {
  std::string inventory = Inventory();
  // First contact: unknown host keys are refused, with their fingerprints.
  CommandResult first = Deploy(inventory);
  EXPECT_EQ(first.exit_code, 1) << first.out << first.err;
  EXPECT_TRUE(absl::StrContains(first.out, "SHA256:")) << first.out;
  EXPECT_TRUE(absl::StrContains(first.out, "--accept-new-host-keys")) << first.out;

  CommandResult deployed = Deploy(inventory, {"--accept-new-host-keys"});
  ASSERT_EQ(deployed.exit_code, 0) << deployed.out << deployed.err << controller_.Log();
  EXPECT_TRUE(absl::StrContains(deployed.out, "registered")) << deployed.out;
  LocalFileSystem fs;
  for (const auto& n : nodes_) {
    EXPECT_TRUE(fs.Exists(n->root() + "/opt/iommuvm/current/bin/iommuvm-agent")) << n->name();
    EXPECT_TRUE(fs.Exists(n->root() + "/etc/systemd/system/iommuvm-agent.service"));
    struct stat st {};
    ASSERT_EQ(stat((n->root() + "/opt/iommuvm/tls/agent-" + n->name() + ".key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::string args = fs.ReadFile(n->root() + "/etc/default/iommuvm-agent").value_or("");
    EXPECT_TRUE(absl::StrContains(args, "--id " + n->name())) << args;
    EXPECT_TRUE(absl::StrContains(args, "site=loopback")) << args;
  }
  EXPECT_EQ(h_.Count("SELECT COUNT(*) FROM nodes"), 2);

  // The deployed agents run an experiment.
  CommandResult ran = h_.Cli({"submit", h_.WriteFile("quick.yaml", QuickSpec(1)), "--wait"});
  ASSERT_EQ(ran.exit_code, 0) << ran.out << ran.err;
  EXPECT_EQ(h_.Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 2);

  // Unchanged: nothing copied, nothing restarted, still registered.
  CommandResult again = Deploy(inventory, {"--format", "json"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  // stdout is the summary alone, as JSON; the live lines went to stderr.
  google::protobuf::ListValue summary;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(again.out, &summary).ok()) << again.out;
  EXPECT_EQ(summary.values_size(), 2);
  EXPECT_TRUE(absl::StrContains(again.err, "registered")) << again.err;
  EXPECT_TRUE(absl::StrContains(again.out, "\"sent\": \"nothing\"")) << again.out;
  EXPECT_FALSE(absl::StrContains(again.out, "\"restarted\": \"yes\"")) << again.out;

  // Undeploy: agents stopped, /opt/iommuvm, the unit and the boot
  // configuration the agent wrote are gone; the state is kept.
  ASSERT_TRUE(fs.WriteFile(nodes_[0]->root() + "/etc/default/grub.d/99-iommuvm.cfg", "# x\n").ok());
  CommandResult undeployed =
      h_.Cli({"undeploy", "--inventory", inventory, "--identity",
              SshNode::ClientKey(h_.dir().path()), "--known-hosts", h_.dir() / "known_hosts"});
  ASSERT_EQ(undeployed.exit_code, 0) << undeployed.out << undeployed.err;
  EXPECT_TRUE(absl::StrContains(undeployed.out, "removed the grub drop-in")) << undeployed.out;
  for (const auto& n : nodes_) {
    EXPECT_FALSE(fs.Exists(n->root() + "/opt/iommuvm")) << n->name();
    EXPECT_FALSE(fs.Exists(n->root() + "/etc/systemd/system/iommuvm-agent.service"));
    EXPECT_TRUE(fs.Exists(n->root() + "/var/lib/iommuvm-agent/outbox.db"));
  }
  EXPECT_FALSE(fs.Exists(nodes_[0]->root() + "/etc/default/grub.d/99-iommuvm.cfg"));
  EXPECT_TRUE(h_.WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Seconds(1)));
  CommandResult agents = h_.Cli({"agents", "--format", "csv"});
  EXPECT_FALSE(absl::StrContains(agents.out, "READY")) << agents.out;
}

TEST_F(DeployTest, RefusesChangedHostKeysAndUnknownClientKeysAndReportsUnreachableNodes) {
  // node2's known_hosts line carries node1's key: a changed host key.
  LocalFileSystem fs;
  std::string node1_key = *fs.ReadFile(nodes_[0]->host_key() + ".pub");
  std::string line1 = absl::StrCat("[127.0.0.1]:", nodes_[0]->port(), " ", node1_key);
  std::string line2 = absl::StrCat("[127.0.0.1]:", nodes_[1]->port(), " ", node1_key);
  ASSERT_TRUE(fs.WriteFile(h_.dir() / "known_hosts", line1 + line2).ok());
  // And a node nobody listens for.
  int closed = nodes_[1]->port() + 1000;
  std::string inventory = Inventory({{"node3", closed}});
  CommandResult r = Deploy(inventory, {"--accept-new-host-keys"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  auto line_of = [&](const std::string& id) {
    std::string found;
    for (const auto& l : lines) {
      if (absl::StartsWith(l, id + " ") && absl::StrContains(l, ":")) found = l;
    }
    return found;
  };
  EXPECT_TRUE(absl::StrContains(line_of("node1"), "registered")) << r.out;
  EXPECT_TRUE(absl::StrContains(line_of("node2"), "host key")) << r.out;
  EXPECT_TRUE(absl::StrContains(line_of("node2"), "SHA256:")) << r.out;
  EXPECT_TRUE(absl::StrContains(line_of("node3"), "cannot connect")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, "rerun")) << r.err;
  EXPECT_FALSE(fs.Exists(nodes_[1]->root() + "/opt/iommuvm"));

  // A key the nodes do not know is refused.
  CommandResult stranger =
      h_.Cli({"deploy", "--inventory", Inventory(), "--bundle", bundle_, "--identity",
              SshNode::StrangerKey(h_.dir().path()), "--known-hosts", h_.dir() / "known_hosts",
              "--accept-new-host-keys"});
  EXPECT_EQ(stranger.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(stranger.out, "key authentication as root")) << stranger.out;
}

// Without --identity the key comes from the ssh-agent, as with ssh.
TEST_F(DeployTest, AuthenticatesThroughTheSshAgent) {
  LocalCommandRunner runner;
  if (!runner.Which("ssh-agent").ok()) GTEST_SKIP() << "ssh-agent is not installed";
  std::string sock = h_.dir() / "agent.sock";
  CommandSpec agent;
  agent.argv = {"ssh-agent", "-D", "-a", sock};
  agent.log_path = h_.dir() / "ssh-agent.log";
  auto running = *runner.Start(agent);
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!LocalFileSystem().Exists(sock) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  CommandSpec add;
  add.argv = {"ssh-add", SshNode::ClientKey(h_.dir().path())};
  add.env = {"SSH_AUTH_SOCK=" + sock};
  add.timeout = absl::Seconds(20);
  CommandResult added = *runner.Run(add);
  ASSERT_EQ(added.exit_code, 0) << added.err;
  std::string home = h_.dir() / "empty-home";  // no ~/.ssh/id_* to fall back on
  ASSERT_TRUE(LocalFileSystem().MakeDirs(home).ok());
  CommandSpec deploy;
  deploy.argv = {IOMMUVM_CLI_BIN, "deploy", "--inventory", Inventory(), "--bundle", bundle_,
                 "--known-hosts", h_.dir() / "known_hosts", "--accept-new-host-keys",
                 "--controller", h_.address(), "--tls_dir", h_.tls_dir(), "--tls_user", "tester",
                 // The nodes dial the controller by another name than deploy.
                 "--agents-dial", absl::StrCat("localhost:", h_.port())};
  deploy.env = {"SSH_AUTH_SOCK=" + sock, "HOME=" + home};
  deploy.timeout = absl::Minutes(2);
  CommandResult r = *runner.Run(deploy);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(
      LocalFileSystem().ReadFile(nodes_[0]->root() + "/etc/default/iommuvm-agent").value_or(""),
      absl::StrCat("--controller localhost:", h_.port())));
  // Without the agent and without a key file: refused.
  deploy.env = {"SSH_AUTH_SOCK=" + h_.dir() / "no-agent.sock", "HOME=" + home};
  CommandResult refused = *runner.Run(deploy);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(refused.out, "the ssh-agent and ~/.ssh/id_*")) << refused.out;
}

// The CloudLab profile installs the bundle at every boot with
// cloudlab/install-bundle; deploy then finds it there and sends nothing.
TEST_F(DeployTest, ABundleTheProfileInstalledIsNotSentAgain) {
  CommandResult compiled =
      Exec({"python3", "-m", "py_compile", IOMMUVM_SOURCE_DIR "/cloudlab/profile.py"});
  EXPECT_EQ(compiled.exit_code, 0) << compiled.err;
  auto install = [&](const std::string& sha) {
    CommandSpec spec;
    spec.argv = {IOMMUVM_SOURCE_DIR "/cloudlab/install-bundle", "file://" + bundle_, sha};
    spec.env = {"IOMMUVM_ROOT=" + nodes_[0]->root()};
    spec.timeout = absl::Minutes(1);
    return *LocalCommandRunner().Run(spec);
  };
  CommandResult wrong = install(std::string(64, '0'));
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(wrong.err, "refused")) << wrong.err;
  CommandResult ok = install("");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(install("").exit_code, 0);  // every boot: idempotent

  CommandResult deployed = Deploy(Inventory(), {"--accept-new-host-keys", "--format", "json"});
  ASSERT_EQ(deployed.exit_code, 0) << deployed.out << deployed.err;
  // node1 had it from the profile, node2 gets it whole.
  std::vector<std::string> rows = absl::StrSplit(deployed.out, "},");
  ASSERT_EQ(rows.size(), 2u) << deployed.out;
  EXPECT_TRUE(absl::StrContains(rows[0], "\"sent\": \"nothing\"")) << deployed.out;
  EXPECT_TRUE(absl::StrContains(rows[1], "\"sent\": \"all ")) << deployed.out;
}

// On a node that boots a real systemd, deploy installs, enables and starts
// the agent's service, and undeploy disables and removes it.
TEST_F(DeployTest, InstallsEnablesAndRemovesTheSystemdService) {
  SystemdNode node(std::string(IOMMUVM_BUILD_DIR) + "/systemd-node/rootfs", h_.dir().path(),
                   SshNode::ClientKey(h_.dir().path()));
  absl::Status started = node.Start();
  if (absl::IsFailedPrecondition(started)) GTEST_SKIP() << started;
  ASSERT_TRUE(started.ok()) << started;
  std::string inventory = h_.WriteFile(
      "systemd.yaml",
      absl::StrCat("nodes:\n  - id: sysd1\n    host: 127.0.0.1\n    port: ", node.port(),
                   "\n    user: root\n    roles: [server]\n    data_address: 127.0.0.1\n"));
  CommandResult deployed = Deploy(inventory, {"--accept-new-host-keys"});
  ASSERT_EQ(deployed.exit_code, 0)
      << deployed.out << deployed.err
      << node.Ssh("journalctl -u iommuvm-agent --no-pager | tail -20").out;
  EXPECT_EQ(node.Ssh("systemctl is-enabled iommuvm-agent").out, "enabled\n");
  EXPECT_EQ(node.Ssh("systemctl is-active iommuvm-agent").out, "active\n");
  // The unit systemd runs is the bundle's, starting the release in use.
  EXPECT_TRUE(absl::StrContains(node.Ssh("systemctl cat iommuvm-agent").out,
                                "ExecStart=/opt/iommuvm/current/bin/iommuvm-agent"));
  // Restarted by systemd when it dies, as at every boot.
  std::string pid = node.Ssh("systemctl show -p MainPID --value iommuvm-agent").out;
  node.Ssh("kill -9 " + pid);
  EXPECT_TRUE(
      h_.WaitForCount("SELECT COUNT(*) FROM nodes WHERE agent_id = 'sysd1'", 1, absl::Seconds(5)));
  absl::SleepFor(absl::Seconds(4));  // RestartSec=2
  EXPECT_EQ(node.Ssh("systemctl is-active iommuvm-agent").out, "active\n");
  EXPECT_NE(node.Ssh("systemctl show -p MainPID --value iommuvm-agent").out, pid);

  CommandResult undeployed =
      h_.Cli({"undeploy", "--inventory", inventory, "--identity",
              SshNode::ClientKey(h_.dir().path()), "--known-hosts", h_.dir() / "known_hosts"});
  ASSERT_EQ(undeployed.exit_code, 0) << undeployed.out << undeployed.err;
  EXPECT_NE(node.Ssh("systemctl is-enabled iommuvm-agent").exit_code, 0);
  EXPECT_EQ(node.Ssh("test -e /opt/iommuvm").exit_code, 1);
  EXPECT_EQ(node.Ssh("test -e /etc/systemd/system/iommuvm-agent.service").exit_code, 1);
}

// What users and scripts check before deploying: one JSON object per node
// with exactly the documented keys, without any connection.
TEST(DeployDryRunTest, PrintsTheNodesOfAManifestAsJson) {
  CommandSpec spec;
  spec.argv = {IOMMUVM_CLI_BIN, "deploy",
               "--manifest",    IOMMUVM_SOURCE_DIR "/tests/fixtures/manifests/c6525-portal.xml",
               "--user",        "alice",
               "--dry-run",     "--format",
               "json"};
  spec.timeout = absl::Seconds(30);
  CommandResult r = *LocalCommandRunner().Run(spec);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  google::protobuf::ListValue nodes;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &nodes).ok()) << r.out;
  ASSERT_EQ(nodes.values_size(), 3);
  const auto& n0 = nodes.values(0).struct_value().fields();
  std::vector<std::string> keys;
  for (const auto& [k, _] : n0) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"data_address", "data_mac", "host", "id", "labels",
                                            "port", "roles", "user"}));
  EXPECT_EQ(n0.at("id").string_value(), "node0");
  EXPECT_EQ(n0.at("host").string_value(), "amd198.utah.cloudlab.us");
  EXPECT_EQ(n0.at("port").number_value(), 22);
  EXPECT_EQ(n0.at("user").string_value(), "alice");
  EXPECT_EQ(n0.at("roles").list_value().values(0).string_value(), "server");
  EXPECT_EQ(n0.at("labels").struct_value().fields().at("hardware").string_value(), "c6525-25g");
  EXPECT_EQ(n0.at("data_address").string_value(), "10.10.1.1");
  EXPECT_EQ(n0.at("data_mac").string_value(), "0c:42:a1:dd:5f:8e");
  const auto& ctl = nodes.values(2).struct_value().fields();
  EXPECT_TRUE(ctl.at("data_address").has_null_value());
  EXPECT_EQ(ctl.at("roles").list_value().values_size(), 0);

  spec.argv = {IOMMUVM_CLI_BIN, "deploy", "--manifest", "/nonexistent.xml", "--dry-run"};
  r = *LocalCommandRunner().Run(spec);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "cannot read /nonexistent.xml")) << r.err;
}

}  // namespace
}  // namespace iommuvm::testing
