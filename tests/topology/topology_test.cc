// The two-host layout: agents in network namespaces "sut" and "client"
// joined by a veth pair, the controller on a bridge in the root namespace.
// All three workloads run with the generator's traffic crossing the veth,
// which the data-plane interface's counters show.
#include <gtest/gtest.h>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tests/support/process_harness.h"
#include "tests/support/topology.h"

namespace iommuvm::testing {
namespace {

TEST(TopologyTest, AllWorkloadsCrossTheDataPlaneVeth) {
  Topology net(absl::StrCat("ivm", ::getpid() % 10000));
  if (absl::IsFailedPrecondition(net.status())) GTEST_SKIP() << net.status();
  ASSERT_TRUE(net.status().ok()) << net.status();
  Harness h(net.controller_host());
  // Off loopback, as on a testbed: mutual TLS, the agents' certificates
  // naming their ids.
  ASSERT_NO_FATAL_FAILURE(h.UseTls());
  Daemon controller = h.StartController();
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10))) << controller.Log();
  Daemon sut = h.StartAgent("sut", "server", {}, {"--data_address", net.sut_address()},
                            net.In(net.sut_ns()));
  Daemon client = h.StartAgent("client", "client", {}, {"--data_address", net.client_address()},
                               net.In(net.client_ns()));
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Seconds(15)))
      << sut.Log() << client.Log();

  int64_t rx_before = net.Counter(net.sut_ns(), net.sut_data_if(), "rx_bytes");
  int64_t tx_before = net.Counter(net.sut_ns(), net.sut_data_if(), "tx_bytes");
  ASSERT_GE(rx_before, 0);
  std::string spec = absl::StrReplaceAll(
      QuickSpec(1), {{"workload: [redis-get, redis-set]", "workload: [redis-get, memcached, nginx]"},
                     {"duration: 3s", "duration: 1s"}});
  CommandResult r = h.Cli({"submit", h.WriteFile("net.yaml", spec), "--wait"}, absl::Minutes(2));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << sut.Log() << client.Log();
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 3);

  // Every request and response went over the veth: at least the bytes
  // nginx served (wrk counted them) left the sut through it.
  int64_t served = h.Count("SELECT CAST(SUM(throughput_bytes * duration_s) AS INTEGER) FROM "
                           "run_results WHERE tool = 'wrk'");
  int64_t tx = net.Counter(net.sut_ns(), net.sut_data_if(), "tx_bytes") - tx_before;
  int64_t rx = net.Counter(net.sut_ns(), net.sut_data_if(), "rx_bytes") - rx_before;
  EXPECT_GT(served, 1 << 20);
  EXPECT_GE(tx, served);
  EXPECT_GT(rx, 20000 * 10);  // 20k redis GETs alone send more than this
  // The server node's telemetry saw the data-plane interface busy.
  EXPECT_GT(h.Count(absl::StrCat("SELECT COUNT(*) FROM metric_samples WHERE agent_id = 'sut' AND "
                                 "name = 'node_network_transmit_bytes_per_second' AND labels = "
                                 "'device=",
                                 net.sut_data_if(), "' AND value > 0")),
            0);
  // And the server listened on the data-plane address, not loopback.
  EXPECT_NE(h.Cli({"status", "1"}).out.find("sut"), std::string::npos);
  EXPECT_NE(sut.Log().find(absl::StrCat("listening on ", net.sut_address())), std::string::npos)
      << sut.Log();
}

}  // namespace
}  // namespace iommuvm::testing
