// The two-host layout: agents in network namespaces "sut" and "client"
// joined by a veth pair, the controller on a bridge in the root namespace.
// Every workload runs with the generator's traffic crossing the veth,
// which the data-plane interface's counters show; a generator pointed at
// the control plane fails its run with the counts.
#include <gtest/gtest.h>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tests/support/process_harness.h"
#include "tests/support/topology.h"

namespace iommuvm::testing {
namespace {

int CountOf(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The two hosts with the controller (mutual TLS, as on a testbed) and both
// agents registered. The server's --data_address is its data-plane
// address, or its control-plane one when a test points the load there.
class TopologyTest : public ::testing::Test {
 protected:
  void Start(const std::string& name, bool sut_on_control_plane = false) {
    net_ = std::make_unique<Topology>(absl::StrCat(name, ::getpid() % 10000));
    if (absl::IsFailedPrecondition(net_->status())) GTEST_SKIP() << net_->status();
    ASSERT_TRUE(net_->status().ok()) << net_->status();
    h_ = std::make_unique<Harness>(net_->controller_host());
    ASSERT_NO_FATAL_FAILURE(h_->UseTls());
    c_.controller = h_->StartController();
    ASSERT_TRUE(c_.controller.WaitForLog("listening on", absl::Seconds(10))) << c_.controller.Log();
    std::string sut_address =
        sut_on_control_plane ? net_->sut_control_address() : net_->sut_address();
    c_.server = h_->StartAgent("sut", "server", {}, {"--data_address", sut_address},
                               net_->In(net_->sut_ns()));
    c_.client = h_->StartAgent("client", "client", {}, {"--data_address", net_->client_address()},
                               net_->In(net_->client_ns()));
    ASSERT_TRUE(h_->WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Seconds(15)))
        << c_.server.Log() << c_.client.Log();
  }
  // Declared first, destroyed last: the agents stop before their namespaces go.
  std::unique_ptr<Topology> net_;
  std::unique_ptr<Harness> h_;
  Cluster c_;
};

TEST_F(TopologyTest, AllWorkloadsCrossTheDataPlaneVeth) {
  ASSERT_NO_FATAL_FAILURE(Start("ivm"));
  if (IsSkipped()) return;

  int64_t rx_before = net_->Counter(net_->sut_ns(), net_->sut_data_if(), "rx_bytes");
  int64_t tx_before = net_->Counter(net_->sut_ns(), net_->sut_data_if(), "tx_bytes");
  ASSERT_GE(rx_before, 0);
  std::string spec = absl::StrReplaceAll(
      QuickSpec(1), {{"workload: [redis-get, redis-set]", "workload: [redis-get, memcached, nginx]"},
                     {"duration: 3s", "duration: 1s"}});
  CommandResult r =
      h_->Cli({"submit", h_->WriteFile("net_->yaml", spec), "--wait"}, absl::Minutes(2));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << c_.server.Log() << c_.client.Log();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 3);

  // Every request and response went over the veth: at least the bytes
  // nginx served (wrk counted them) left the sut through it.
  int64_t served = h_->Count(
      "SELECT CAST(SUM(throughput_bytes * duration_s) AS INTEGER) FROM "
      "run_results WHERE tool = 'wrk'");
  int64_t tx = net_->Counter(net_->sut_ns(), net_->sut_data_if(), "tx_bytes") - tx_before;
  int64_t rx = net_->Counter(net_->sut_ns(), net_->sut_data_if(), "rx_bytes") - rx_before;
  EXPECT_GT(served, 1 << 20);
  EXPECT_GE(tx, served);
  EXPECT_GT(rx, 20000 * 10);  // 20k redis GETs alone send more than this
  // The server node's telemetry saw the data-plane interface busy.
  EXPECT_GT(h_->Count(absl::StrCat("SELECT COUNT(*) FROM metric_samples WHERE agent_id = 'sut' AND "
                                   "name = 'node_network_transmit_bytes_per_second' AND labels = "
                                   "'device=",
                                   net_->sut_data_if(), "' AND value > 0")),
            0);
  // And the server listened on the data-plane address, not loopback.
  EXPECT_NE(h_->Cli({"status", "1"}).out.find("sut"), std::string::npos);
  EXPECT_NE(c_.server.Log().find(absl::StrCat("listening on ", net_->sut_address())),
            std::string::npos)
      << c_.server.Log();
}

// iperf3 (two flows, each its own port) and sockperf ping-pong, end to end
// across the data-plane veth: the agents' data-path check saw the bytes
// there, and the results carry bytes per flow and round trips.
TEST_F(TopologyTest, Iperf3AndSockperfAcrossTheDataPlane) {
  ASSERT_NO_FATAL_FAILURE(Start("ivn"));
  if (IsSkipped()) return;
  int64_t tx_before = net_->Counter(net_->client_ns(), net_->client_data_if(), "tx_bytes");
  std::string spec = absl::StrReplaceAll(SourceFile("experiments/network-path.yaml"),
                                         {{"repetitions: 3", "repetitions: 1"},
                                          {"flows: 4", "flows: 2"},
                                          {"duration: 10s", "duration: 2s"},
                                          {"warmup: 2s", "warmup: 1s"}});
  CommandResult r =
      h_->Cli({"submit", h_->WriteFile("path.yaml", spec), "--wait"}, absl::Minutes(2));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << c_.server.Log() << c_.client.Log();
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 2);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM run_results WHERE tool = 'iperf3' AND operation IN "
                      "('total', 'flow-0', 'flow-1') AND throughput_bytes > 0"),
            3);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM run_results WHERE tool = 'sockperf' AND operation = "
                      "'ping-pong' AND requests > 0 AND latency_p99_us > 0"),
            1);
  // What iperf3 sent left the client through its data-plane veth.
  int64_t sent = h_->Count(
      "SELECT CAST(SUM(throughput_bytes * duration_s) AS INTEGER) FROM "
      "run_results WHERE tool = 'iperf3' AND operation = 'total'");
  EXPECT_GT(sent, 1 << 20);
  EXPECT_GE(net_->Counter(net_->client_ns(), net_->client_data_if(), "tx_bytes") - tx_before, sent);
  // iperf3 fills the veth (10 Gbit/s as the driver reports it): each of
  // its result rows says the link limited it.
  CommandResult results = h_->Cli({"results", "1", "--format", "csv"});
  EXPECT_EQ(CountOf(results.out, ",link,,\"link 100% of 10 Gbit/s, "), 3) << results.out;
  // sockperf's one connection fills nothing; whatever the machine's load,
  // its verdict rests on all three limits measured.
  EXPECT_NE(results.out.find("ping-pong"), std::string::npos);
  EXPECT_EQ(CountOf(results.out, "generator "), 4) << results.out;
  // Each run's evidence says what its data interface carried.
  EXPECT_EQ(h_->Count(absl::StrCat("SELECT COUNT(*) FROM attempt_evidence WHERE key = "
                                   "'load.data_path' AND value LIKE '% on ",
                                   net_->client_data_if(), " for % of payload (%)'")),
            2);
}

// The server listens on its control-plane address (a wrong --data_address,
// as on a node whose data_address names the control NIC): the load works,
// but its bytes cross the client's control link, not the data-plane veth,
// and the run fails with the counts instead of measuring the wrong path.
TEST_F(TopologyTest, LoadOffTheDataPlaneFailsWithTheCounts) {
  ASSERT_NO_FATAL_FAILURE(Start("ivx", /*sut_on_control_plane=*/true));
  if (IsSkipped()) return;
  std::string spec = absl::StrReplaceAll(
      QuickSpec(1, 20000), {{"workload: [redis-get, redis-set]", "workload: [redis-get]"}});
  CommandResult r =
      h_->Cli({"submit", h_->WriteFile("off.yaml", spec), "--wait"}, absl::Minutes(2));
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM runs WHERE state = 'FAILED'"), 1);
  EXPECT_EQ(h_->Count("SELECT COUNT(*) FROM run_results"), 0);
  CommandResult status = h_->Cli({"status", "1"});
  EXPECT_NE(status.out.find(absl::StrCat("crossed ", net_->client_data_if())), std::string::npos)
      << status.out << status.err;
  EXPECT_NE(status.out.find("is data_address on another interface?"), std::string::npos)
      << status.out;
}

// The host: section on real interfaces: MTU, an offload and channels set on
// the veths and read back before each run; a knob this machine lacks (no
// cpufreq driver) fails the run naming it, or with best_effort is recorded
// as not held; diff-env shows what differed between two runs.
TEST_F(TopologyTest, HostSettingsAreAppliedReadBackAndCompared) {
  ASSERT_NO_FATAL_FAILURE(Start("ive"));
  if (IsSkipped()) return;
  auto spec = [&](const std::string& name, const std::string& host,
                  const std::string& server_keys = "") {
    std::string yaml = absl::StrReplaceAll(
        QuickSpec(1, 5000), {{"workload: [redis-get, redis-set]", "workload: [redis-get]"},
                             {"name: quickstart", absl::StrCat("name: ", name)}});
    yaml.replace(yaml.find("      io_threads: 1"), 0, server_keys);
    return h_->WriteFile(name + ".yaml", yaml + host);
  };
  CommandResult set = h_->Cli({"submit",
                               spec("set",
                                    "host:\n  server: {nic: {mtu: 1400, offloads: {gro: "
                                    "true}}}\n  client: {nic: {mtu: 1400, channels: 2}}\n",
                                    // One CPU of the data NIC's node (a veth has none: any).
                                    "      cores: auto:1\n"),
                               "--wait"},
                              absl::Minutes(2));
  ASSERT_EQ(set.exit_code, 0) << set.out << set.err << c_.server.Log() << c_.client.Log();
  auto evidence = [&](int64_t experiment, const std::string& key) {
    return h_->Count(
        absl::StrCat("SELECT COUNT(*) FROM attempt_evidence v JOIN attempts a ON "
                     "a.id = v.attempt_id JOIN runs r ON r.id = a.run_id WHERE "
                     "r.experiment_id = ",
                     experiment, " AND ", key));
  };
  EXPECT_EQ(evidence(1, "v.key = 'server.env.nic.mtu' AND v.value = '1400'"), 1);
  EXPECT_EQ(evidence(1, "v.key = 'server.env.nic.gro' AND v.value = 'on'"), 1);
  EXPECT_EQ(evidence(1, "v.key = 'client.env.nic.channels' AND v.value = 'rx 2 tx 2'"), 1);
  EXPECT_EQ(evidence(1, absl::StrCat("v.key = 'server.env.nic' AND v.value = '",
                                     net_->sut_data_if(), "'")),
            1);
  EXPECT_EQ(evidence(1, absl::StrCat("v.key = 'server.env.cores' AND v.value = '0 (auto: 1 CPUs "
                                     "of every online CPU (",
                                     net_->sut_data_if(), " has no NUMA node))'")),
            1);
  // Whatever host: does not set is recorded too.
  EXPECT_EQ(evidence(1, "v.key = 'server.env.governor'"), 1);

  // A governor on a machine without cpufreq: refused, naming the knob.
  CommandResult refused =
      h_->Cli({"submit", spec("gov", "host:\n  server: {governor: performance}\n"), "--wait"},
              absl::Minutes(2));
  EXPECT_NE(refused.exit_code, 0);
  CommandResult status = h_->Cli({"status", "2"});
  EXPECT_NE(status.out.find("governor: asked performance, reads unsupported"), std::string::npos)
      << status.out;
  // Best effort: measured, and what did not hold is recorded.
  CommandResult effort = h_->Cli(
      {"submit",
       spec("effort",
            "host:\n  best_effort: true\n  server: {governor: performance, nic: {mtu: 1450}}\n"),
       "--wait"},
      absl::Minutes(2));
  ASSERT_EQ(effort.exit_code, 0) << effort.out << effort.err;
  EXPECT_EQ(evidence(3,
                     "v.key = 'server.env.not_held' AND v.value LIKE 'governor: asked "
                     "performance%'"),
            1);

  CommandResult diff = h_->Cli({"diff-env", "1:0", "3:0"});
  EXPECT_EQ(diff.exit_code, 1) << diff.out << diff.err;
  EXPECT_NE(diff.out.find("server nic.mtu"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("1400"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("1450"), std::string::npos) << diff.out;
  EXPECT_EQ(diff.out.find("server governor"), std::string::npos) << "unchanged knobs stay out";
  CommandResult same = h_->Cli({"diff-env", "1", "0", "0", "--all"});
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_NE(same.out.find("0 of "), std::string::npos) << same.out;
  EXPECT_NE(same.out.find("client nic.channels"), std::string::npos) << same.out;
}

// A topology left behind by a killed test keeps its bridge and subnet in
// the root namespace. A new topology never takes a subnet in use: two
// bridges with one /24 would route the controller's replies out of the
// wrong one, and the agents would never register, with no error. Nor a
// name in use, where every step would fail.
TEST(TopologySubnetTest, WhatATopologyLeftBehindHoldsIsNotTakenAgain) {
  if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
  Topology left_behind(absl::StrCat("lb", ::getpid() % 10000));
  ASSERT_TRUE(left_behind.status().ok()) << left_behind.status();
  Topology next(absl::StrCat("nx", ::getpid() % 10000));
  ASSERT_TRUE(next.status().ok()) << next.status();
  EXPECT_NE(next.controller_host().substr(0, next.controller_host().rfind(".0.1")),
            left_behind.controller_host().substr(0, left_behind.controller_host().rfind(".0.1")));
  // The controller's replies to the new topology's sut leave by its bridge.
  LocalCommandRunner runner;
  CommandSpec route;
  route.argv = {"ip", "route", "get", next.sut_control_address()};
  route.timeout = absl::Seconds(5);
  auto r = runner.Run(route);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->out.find(absl::StrCat("dev nx", ::getpid() % 10000, "-br")), std::string::npos)
      << r->out;
  // Nor its names: a topology of the same name gets names of its own.
  Topology same_name(absl::StrCat("lb", ::getpid() % 10000));
  ASSERT_TRUE(same_name.status().ok()) << same_name.status();
  EXPECT_NE(same_name.sut_ns(), left_behind.sut_ns());
}

}  // namespace
}  // namespace iommuvm::testing
