// grub for real: a node that boots through QEMU's firmware and GRUB from
// its own disk (scripts/grub-node-image: Debian 12, grub-pc, and the
// /etc/default/grub of a CloudLab node, whose slicefix block appends
// console= and emulabcnet= after Debian's own line). `iommuvm deploy`
// installs the agent over SSH; the controller switches the node with the
// grub drop-in (the real update-grub, a real reboot) and then once with
// grub-reboot; each boot is verified by the probe from inside; `iommuvm
// undeploy` and a reboot bring back the command line the node had.
#include <gtest/gtest.h>
#include <unistd.h>

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tests/support/grub_node.h"
#include "tests/support/process_harness.h"
#include "tests/support/topology.h"

namespace iommuvm::testing {
namespace {

class GrubNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the grub node needs root (namespaces, taps)";
    net_ = std::make_unique<Topology>(absl::StrCat("gn", ::getpid() % 10000));
    if (absl::IsFailedPrecondition(net_->status())) GTEST_SKIP() << net_->status();
    ASSERT_TRUE(net_->status().ok()) << net_->status();
    ASSERT_TRUE(net_->AddGuestBridge().ok());
    h_ = std::make_unique<Harness>(net_->controller_host());
    node_ = std::make_unique<GrubNode>(*net_, GrubNode::DefaultImageDir(), h_->dir() / "gnode");
    absl::Status started = node_->Start();
    if (absl::IsFailedPrecondition(started)) GTEST_SKIP() << started;
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_NO_FATAL_FAILURE(h_->UseTls());
    controller_ = h_->StartController(
        {"--agent_grace=30s", absl::StrCat("--console_command=tail -n 40 ", node_->ConsolePath())});
    ASSERT_TRUE(controller_.WaitForLog("listening on", absl::Seconds(10))) << controller_.Log();
    client_ = h_->StartAgent("client", "client", {}, {"--data_address", net_->client_address()},
                             net_->In(net_->client_ns()));
  }

  // The node's /proc/cmdline, without BOOT_IMAGE= (the image path).
  std::string Cmdline() {
    CommandResult r = node_->Ssh("cat /proc/cmdline");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string line(absl::StripAsciiWhitespace(r.out));
    if (absl::StartsWith(line, "BOOT_IMAGE=")) line = line.substr(line.find(' ') + 1);
    return line;
  }

  void Submit(const std::string& name, const std::string& modes, const std::string& switch_spec,
              int runs_before) {
    std::string spec = h_->WriteFile(
        name + ".yaml", RedisGetPairSpec(name, absl::StrCat("  iommu: [", modes, "]\n"), "gnode",
                                         absl::StrCat("switch: ", switch_spec, R"(
order: {repetitions_across_boots: false}
telemetry: {interval: 1s}
timeouts: {boot: 5m, prepare: 60s, run: 2m, collect: 60s}
)")));
    absl::Time start = absl::Now();
    CommandResult r = h_->Cli({"submit", spec, "--wait"}, absl::Minutes(15));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err << h_->Events() << node_->Console()
                              << node_->Ssh("journalctl -b -u iommuvm-agent --no-pager -n 60").out
                              << node_->Ssh("journalctl --list-boots --no-pager").out;
    std::cout << name << ": "
              << absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Seconds(1))) << "\n";
    EXPECT_GE(h_->Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), runs_before);
  }

  std::unique_ptr<Topology> net_;
  std::unique_ptr<Harness> h_;
  std::unique_ptr<GrubNode> node_;
  Daemon controller_, client_;
};

TEST_F(GrubNodeTest, DropInAndGrubRebootSwitchARealBootAndUndeployRestoresIt) {
  absl::Time boot = absl::Now();
  ASSERT_TRUE(node_->WaitForSsh(absl::Minutes(4)).ok()) << node_->Console();
  std::cout << "firmware + grub + Debian to SSH: "
            << absl::FormatDuration(absl::Trunc(absl::Now() - boot, absl::Seconds(1))) << "\n";
  const std::string original = Cmdline();
  ASSERT_TRUE(absl::StrContains(original, "console=ttyS0")) << original;
  ASSERT_TRUE(absl::StrContains(original, "emulabcnet=")) << original;
  ASSERT_FALSE(absl::StrContains(original, "intel_iommu=")) << original;

  // The data NIC, as the testbed configures its LAN: by MAC, at every boot.
  std::string data = absl::StrCat(
      "[Unit]\nDescription=test LAN address\nBefore=iommuvm-agent.service\n"
      "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c 'i=$(ip -o link | "
      "grep -i ",
      kGrubNodeDataMac, " | cut -d: -f2 | tr -d \" \"); ip link set $i up; ip addr add ",
      net_->guest_address(), "/24 dev $i; ip route add ", net_->client_address(), " via ",
      net_->guest_gateway(), "'\n[Install]\nWantedBy=multi-user.target\n");
  CommandResult lan = node_->Ssh(
      absl::StrCat("cat > /etc/systemd/system/test-lan.service <<'EOF'\n", data,
                   "EOF\nsystemctl daemon-reload && systemctl enable --now test-lan.service"));
  ASSERT_EQ(lan.exit_code, 0) << lan.out << lan.err;

  // Deploy the agent over SSH, as on a testbed.
  std::string bundle = h_->dir() / "iommuvm.tar.gz";
  CommandResult bundled = MakeBundle(bundle);
  ASSERT_EQ(bundled.exit_code, 0) << bundled.err;
  std::string inventory = h_->WriteFile(
      "nodes.yaml",
      absl::StrCat(
          "nodes:\n  - id: gnode\n    host: ", node_->host(), "\n    port: ", node_->port(),
          "\n    user: root\n    roles: [server]\n    data_address: ", net_->guest_address(),
          "\n    data_mac: \"", kGrubNodeDataMac, "\"\n"));
  CommandResult deployed = h_->Cli(
      {"deploy", "--inventory", inventory, "--bundle", bundle, "--identity", node_->key(),
       "--known-hosts", h_->dir() / "known_hosts", "--accept-new-host-keys", "--wait", "120s"},
      absl::Minutes(5));
  ASSERT_EQ(deployed.exit_code, 0) << deployed.out << deployed.err << controller_.Log();
  ASSERT_TRUE(h_->WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Minutes(1))) << client_.Log();

  // Debian's kernel translates lazily by default: two switches away from it
  // by the drop-in (update-grub, reboot), each verified inside.
  ASSERT_NO_FATAL_FAILURE(Submit("grub-drop-in", "strict, passthrough", "{method: grub}", 2));
  std::string switched = Cmdline();
  EXPECT_TRUE(absl::StrContains(switched, "intel_iommu=on")) << switched;
  // The drop-in's tokens come with CloudLab's appended line, which holds.
  EXPECT_TRUE(absl::StrContains(switched, "emulabcnet=")) << switched;
  EXPECT_TRUE(absl::StrContains(switched, "console=ttyS0")) << switched;
  // One more, once: grub-reboot of the agent's entry.
  ASSERT_NO_FATAL_FAILURE(Submit("grub-once", "lazy", "{method: grub, grub_one_shot: true}", 3));
  EXPECT_TRUE(absl::StrContains(Cmdline(), "iommu.strict=0")) << Cmdline();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'switch.method' AND "
                      "value = 'grub'"),
            3)
      << h_->Events();
  EXPECT_EQ(h_->Count("SELECT COUNT(DISTINCT value) FROM attempt_evidence WHERE key = "
                      "'verify.detected'"),
            3)
      << h_->Events();
  std::cout << "grub switch times under TCG:\n" << h_->SwitchTimes();

  // Undeploy, reboot: the node boots the command line it had.
  CommandResult undeployed = h_->Cli({"undeploy", "--inventory", inventory, "--identity",
                                      node_->key(), "--known-hosts", h_->dir() / "known_hosts"},
                                     absl::Minutes(3));
  ASSERT_EQ(undeployed.exit_code, 0) << undeployed.out << undeployed.err;
  (void)node_->Ssh("systemctl reboot", absl::Seconds(10));
  absl::SleepFor(absl::Seconds(5));
  ASSERT_TRUE(node_->WaitForSsh(absl::Minutes(4)).ok()) << node_->Console();
  EXPECT_EQ(Cmdline(), original);
}

}  // namespace
}  // namespace iommuvm::testing
