// The kernel axis on a real kernel: a QEMU guest with an emulated VT-d is
// a server node (its agent registered with the controller on this host)
// with two Debian kernel packages in its /boot. An experiment over
// matrix.kernel [stock, <second>] makes the node kexec into the second
// kernel and back; the probe verifies `uname -r` and the mode from the
// guest's own /proc and /sys after each kexec, and the runs measure Redis
// in the guest from a client agent across the data plane.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "tests/support/process_harness.h"
#include "tests/support/qemu_node.h"
#include "tests/support/topology.h"

namespace iommuvm::testing {
namespace {

// vmlinuz -> kernel/<release>/boot/vmlinuz-<release>: the release.
std::string ReleaseOf(const std::string& link) {
  std::error_code ec;
  std::string target = std::filesystem::read_symlink(link, ec).string();
  size_t at = target.rfind("vmlinuz-");
  return ec || at == std::string::npos ? "" : target.substr(at + 8);
}

TEST(KernelAxisVmTest, KexecIntoASecondKernelAndBackVerifiedFromInside) {
  const std::string guest = IOMMUVM_GUEST_DIR;
  if (!std::filesystem::exists(guest + "/vmlinuz-second")) {
    GTEST_SKIP() << "no second kernel in " << guest
                 << " (scripts/test builds it with scripts/guest-image --second-kernel)";
  }
  std::string stock = ReleaseOf(guest + "/vmlinuz"), second = ReleaseOf(guest + "/vmlinuz-second");
  ASSERT_FALSE(stock.empty() || second.empty() || stock == second) << stock << " " << second;
  Topology net(absl::StrCat("ik", ::getpid() % 10000));
  if (absl::IsFailedPrecondition(net.status())) GTEST_SKIP() << net.status();
  ASSERT_TRUE(net.status().ok()) << net.status();
  ASSERT_TRUE(net.AddGuestBridge().ok());
  Harness h(net.controller_host());
  Daemon controller = h.StartController({"--agent_grace=30s"});
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10))) << controller.Log();
  Daemon client = h.StartAgent("client", "client", {}, {"--data_address", net.client_address()},
                               net.In(net.client_ns()));
  QemuNode node(net, {.id = "qnode",
                      .controller_address = h.address(),
                      .dir = h.dir() / "qnode",
                      .kernels = {{stock, guest + "/vmlinuz"}, {second, guest + "/vmlinuz-second"}},
                      .initrd = guest + "/initrd.cpio"});
  ASSERT_TRUE(node.Start().ok());
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Minutes(2)))
      << node.Console() << client.Log();

  std::string spec = h.WriteFile("kernels.yaml", absl::StrCat(R"(name: kernels
matrix:
  kernel: [stock, )",
                                                              second, R"(]
  iommu: [strict]
  workload: [get]
workloads:
  get:
    app: redis
    generator: {tests: [get], clients: 4, requests: 2000}
nodes:
  pairs: [{server: qnode, client: client}]
switch: kexec
telemetry: {interval: 1s}
timeouts: {boot: 3m, prepare: 60s, run: 2m, collect: 60s}
)"));
  CommandResult r = h.Cli({"submit", spec, "--wait"}, absl::Minutes(8));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << h.Cli({"status", "1"}).out << node.Console();
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 2);
  // Each run verified in its own kernel by the probe inside the guest.
  for (const std::string& release : {stock, second}) {
    EXPECT_EQ(h.Count(absl::StrCat(
                  "SELECT COUNT(*) FROM attempt_evidence e JOIN attempts a ON a.id = e.attempt_id "
                  "JOIN attempt_evidence k ON k.attempt_id = a.id WHERE a.state = 'SUCCEEDED' "
                  "AND e.key = 'verify.kernel_release' AND k.key = 'kernel.release' AND e.value = "
                  "k.value AND e.value = '",
                  release, "'")),
              1)
        << release;
  }
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempt_evidence e JOIN attempts a ON a.id = "
                    "e.attempt_id WHERE a.state = 'SUCCEEDED' AND key = 'verify.detected' AND "
                    "value = 'strict'"),
            2)
      << Exec({"sqlite3", h.db_path(), "SELECT * FROM events"}).out;
  // Two real kexecs: into the second kernel, and back into stock, each a
  // new boot.
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'switch.method' AND "
                    "value = 'kexec'"),
            2);
  EXPECT_EQ(h.Count("SELECT COUNT(DISTINCT value) FROM attempt_evidence WHERE key = "
                    "'switch.boot_id'"),
            2);
  std::string console = node.Console();
  EXPECT_NE(console.find("Linux version " + second), std::string::npos);
  // How long each kexec took, switch requested to the new kernel verified.
  CommandResult times =
      Exec({"sqlite3", "-cmd", ".timeout 5000", h.db_path(),
            "SELECT s.message || ': ' || ((v.ts_ms - s.ts_ms) / 1000.0) || ' s' FROM events s JOIN "
            "events v ON v.attempt_id = s.attempt_id AND v.kind = 'verified' WHERE s.kind = "
            "'switching'"});
  std::cout << "kexec switch times under TCG:\n" << times.out << times.err;
}

}  // namespace
}  // namespace iommuvm::testing
