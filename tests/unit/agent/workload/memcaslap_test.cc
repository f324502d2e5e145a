// memcaslap's command line and its ratio configuration.
#include "agent/workload/memcaslap.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "agent/workload/memcaslap_parser.h"
#include "agent/workload/memtier.h"
#include "agent/workload/memtier_parser.h"
#include "agent/workload/nginx_server.h"
#include "agent/workload/redis_benchmark.h"
#include "agent/workload/server_application.h"
#include "agent/workload/wrk.h"
#include "agent/workload/wrk_parser.h"
#include "tests/support/fake_command_runner.h"
#include "tests/support/fixtures.h"
#include "tests/support/status_matchers.h"
#include "tests/support/sysroot_builder.h"
#include "tests/support/workload_env.h"

namespace iommuvm::agent {
namespace {

using testing::Fixture;

TEST(MemcaslapTest, CommandLineAndRatioConfig) {
  v1::RunLoad load;
  load.set_target_host("10.0.0.2");
  load.set_target_port(11211);
  load.set_clients(50);
  load.set_threads(4);
  load.set_duration_ms(30000);
  load.set_value_size(1024);
  load.set_ratio("1:9");
  Memcaslap m(testing::HostEnv(nullptr));
  EXPECT_EQ(m.CommandLine(load),
            (std::vector<std::string>{"memcaslap", "-s", "10.0.0.2:11211", "-T", "4", "-c", "48",
                                      "-F", "memcaslap.cfg", "-t", "30s", "-S", "30s"}));
  // With progress wanted, tables come every interval.
  m.set_progress([](double) {}, absl::Seconds(2));
  EXPECT_EQ(m.CommandLine(load).back(), "2s");
  EXPECT_EQ(Memcaslap::Config(load),
            "# written by iommuvm-agent\nkey\n16 16 1\nvalue\n1024 1024 1\ncmd\n0 0.1000\n1 "
            "0.9000\n");
}

}  // namespace
}  // namespace iommuvm::agent
