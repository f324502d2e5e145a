#pragma once
// What the node tier's tests share: the two-namespace topology with a
// guests' bridge, a controller, a client agent in the client namespace, and
// a QEMU guest as the server node (tests/support/qemu_node.h) booted from
// the guest image. Skipped, with the reason, where the topology cannot be
// built or the image lacks what a test needs.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "iommuvm/v1/common.pb.h"
#include "tests/support/process_harness.h"
#include "tests/support/qemu_node.h"
#include "tests/support/topology.h"

namespace iommuvm::testing {

class NodeTier : public ::testing::Test {
 protected:
  static std::string GuestDir() { return IOMMUVM_GUEST_DIR; }

  // vmlinuz -> kernel/<release>/boot/vmlinuz-<release>: the release.
  static std::string ReleaseOf(const std::string& link) {
    std::error_code ec;
    std::string target = std::filesystem::read_symlink(link, ec).string();
    size_t at = target.rfind("vmlinuz-");
    return ec || at == std::string::npos ? "" : target.substr(at + 8);
  }

  void SetUp() override {
    if (!std::filesystem::exists(GuestDir() + "/initrd.cpio")) {
      GTEST_SKIP() << "no guest image in " << GuestDir() << " (scripts/test builds it)";
    }
    static int number = 0;
    net_ = std::make_unique<Topology>(absl::StrCat("in", ::getpid() % 10000, "-", ++number));
    if (absl::IsFailedPrecondition(net_->status())) GTEST_SKIP() << net_->status();
    ASSERT_TRUE(net_->status().ok()) << net_->status();
    ASSERT_TRUE(net_->AddGuestBridge().ok());
    h_ = std::make_unique<Harness>(net_->controller_host());
    // The node's serial console, as an operator's console server keeps it.
    controller_ =
        h_->StartController({"--agent_grace=30s", absl::StrCat("--console_command=tail -n 40 ",
                                                               NodeDir(), "/console.log")});
    ASSERT_TRUE(controller_.WaitForLog("listening on", absl::Seconds(10))) << controller_.Log();
    client_ = h_->StartAgent("client", "client", {}, {"--data_address", net_->client_address()},
                             net_->In(net_->client_ns()));
  }

  // Boots the node "qnode" with `kernels` in its /boot (the first boots)
  // and waits until it and the client have registered.
  void StartNode(QemuNodeConfig config) {
    config.id = "qnode";
    config.controller_address = h_->address();
    config.dir = NodeDir();
    if (config.initrd.empty()) config.initrd = GuestDir() + "/initrd.cpio";
    node_ = std::make_unique<QemuNode>(*net_, std::move(config));
    ASSERT_TRUE(node_->Start().ok());
    if (!h_->WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Minutes(2))) {
      // The console's end says why the node did not come up; its start
      // is the kernel's banner, which logs cut first.
      std::string console = node_->Console();
      FAIL() << "registered: " << h_->Cli({"agents"}).out << "\nthe node's console, last part:\n"
             << console.substr(console.size() > 6000 ? console.size() - 6000 : 0)
             << "\nthe client agent:\n"
             << client_.Log() << "\nthe controller:\n"
             << controller_.Log();
    }
  }

  std::string NodeDir() const { return h_->dir() / "qnode"; }

  // Submits a spec of Redis GET runs in the node ("qnode" against
  // "client") with `matrix` (its lines, indented) and `switch_method`,
  // waits, and fails the test (with the events and the node's console)
  // unless every run succeeded. Long enough loads that whole telemetry
  // intervals lie inside each (about 3 s here).
  void SubmitAndWait(const std::string& matrix, const std::string& switch_method, int runs) {
    std::string spec = h_->WriteFile(
        "node.yaml",
        RedisGetPairSpec("node-tier", matrix, "qnode", absl::StrCat("switch: ", switch_method, R"(
order: {repetitions_across_boots: false}
telemetry: {interval: 1s}
timeouts: {boot: 3m, prepare: 60s, run: 2m, collect: 60s}
)")));
    CommandResult r = h_->Cli({"submit", spec, "--wait"}, absl::Minutes(10));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err << h_->Events() << node_->Console();
    ASSERT_EQ(h_->Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), runs);
  }

  // Succeeded attempts of runs in `mode` whose evidence `key` is `value`.
  int64_t Verified(v1::IommuMode mode, const std::string& key, const std::string& value) {
    return h_->Count(absl::StrCat(
        "SELECT COUNT(*) FROM attempt_evidence e JOIN attempts a ON a.id = e.attempt_id JOIN runs "
        "r ON r.id = a.run_id WHERE a.state = 'SUCCEEDED' AND e.key = '",
        key, "' AND e.value = '", value, "' AND r.iommu = ", static_cast<int>(mode)));
  }

  std::unique_ptr<Topology> net_;
  std::unique_ptr<Harness> h_;
  Daemon controller_, client_;
  std::unique_ptr<QemuNode> node_;
};

}  // namespace iommuvm::testing
