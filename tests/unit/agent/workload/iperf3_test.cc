// iperf3: its -J documents recorded from the real tool (a measured run
// with --omit, a refused connection, an unknown congestion control), and
// the command line of each flow.
#include "agent/workload/iperf3.h"

#include <gtest/gtest.h>

#include "agent/workload/iperf3_parser.h"
#include "tests/support/fixtures.h"

namespace iommuvm::agent {
namespace {

using testing::Fixture;

TEST(Iperf3ParserTest, MeasuredIntervalOnlyFromARecordedRun) {
  auto flow = ParseIperf3Json(Fixture("iperf3/3.12-omit1-2s.json"));
  ASSERT_TRUE(flow.ok()) << flow.status();
  // end.sum_received: the 2 measured seconds, without the omitted one.
  EXPECT_EQ(flow->bytes_received, 5914624212u);
  EXPECT_DOUBLE_EQ(flow->seconds, 2.000683);
  EXPECT_EQ(flow->bytes_sent, 5912657920u);
  EXPECT_EQ(flow->retransmits, 2u);
  EXPECT_NEAR(flow->sender_cpu_percent, 98.598, 0.01);
}

TEST(Iperf3ParserTest, ErrorsKeepIperf3sWordsAndClass) {
  auto refused = ParseIperf3Json(Fixture("iperf3/3.12-refused.json"));
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("Connection refused"), std::string::npos);
  auto congestion = ParseIperf3Json(Fixture("iperf3/3.12-bad-congestion.json"));
  EXPECT_TRUE(absl::IsFailedPrecondition(congestion.status())) << congestion.status();
  EXPECT_NE(congestion.status().message().find("TCP_CONGESTION"), std::string::npos);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseIperf3Json("iperf3: parameter error").status()));
}

TEST(Iperf3ParserTest, StderrAroundTheDocumentIsIgnored) {
  std::string doc = Fixture("iperf3/3.12-omit1-2s.json");
  auto flow = ParseIperf3Json("iperf3: warning - something\n" + doc + "\n");
  ASSERT_TRUE(flow.ok()) << flow.status();
  EXPECT_EQ(flow->bytes_received, 5914624212u);
}

TEST(Iperf3Test, EachFlowItsOwnPortCoreAndOptions) {
  WorkloadEnv env{};
  Iperf3 tool(env);
  v1::RunLoad load;
  load.set_target_host("10.10.1.1");
  load.set_target_port(5201);
  load.set_flows(3);
  load.set_duration_ms(10000);
  load.set_warmup_ms(1500);
  load.set_congestion("bbr");
  load.set_socket_buffer_bytes(4 << 20);
  load.set_write_size_bytes(65536);
  load.set_cores("8,10");
  EXPECT_EQ(tool.FlowCommandLine(load, 2),
            (std::vector<std::string>{"taskset", "-c", "8", "iperf3", "-c", "10.10.1.1", "-p",
                                      "5203", "-t", "10", "-J", "-O", "2", "-C", "bbr", "-w",
                                      "4194304", "-l", "65536"}));
  EXPECT_EQ(tool.FlowCommandLine(load, 1)[2], "10");
  load.clear_cores();
  load.clear_warmup_ms();
  EXPECT_EQ(tool.CommandLine(load)[0], "iperf3");
  EXPECT_TRUE(tool.WarmsUpItself());
}

}  // namespace
}  // namespace iommuvm::agent
