// Servers' command lines (pinned), nginx's configuration and the
// counters read from a server's own statistics.
#include "agent/workload/server_application.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "agent/workload/memcaslap.h"
#include "agent/workload/memcaslap_parser.h"
#include "agent/workload/memtier.h"
#include "agent/workload/memtier_parser.h"
#include "agent/workload/nginx_server.h"
#include "agent/workload/redis_benchmark.h"
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

TEST(ServerCountersTest, CounterAfterReadsTheNumberAfterItsKey) {
  EXPECT_EQ(CounterAfter("# Stats\r\ntotal_connections_received:3\r\ntotal_commands_processed:"
                         "42\r\n",
                         "total_commands_processed:"),
            42u);
  EXPECT_EQ(CounterAfter("STAT cmd_get 100\r\nSTAT cmd_set 7\r\nEND\r\n", "STAT cmd_set "), 7u);
  EXPECT_EQ(CounterAfter("nothing here", "STAT cmd_get "), 0u);
}

// Servers are started pinned with taskset when the spec gives cores, with
// the app's own flags; nginx serves its status page for live counters.
TEST(ServerApplicationTest, PinnedCommandLinesAndNginxConfig) {
  v1::StartServer config;
  config.set_app("memcached");
  config.set_port(11311);
  config.set_threads(4);
  config.set_connections(8192);
  config.set_max_memory_bytes(1ull << 30);
  config.set_cores("0-1");
  testing::FakeCommandRunner runner;
  auto app = MakeServerApplication("memcached", testing::HostEnv(&runner));
  ASSERT_TRUE(app.ok());
  testing::SysrootBuilder dir;
  EXPECT_FALSE((*app)->Start(config, "127.0.0.1", dir.root(), absl::Seconds(1)).ok());
  ASSERT_EQ(runner.ran.size(), 1u);
  std::string expected =
      "taskset -c 0-1 memcached -l 127.0.0.1 -p 11311 -U 0 -v -t 4 -c 8192 -m 1024";
  EXPECT_EQ(runner.ran[0].substr(0, expected.size()), expected);

  v1::StartServer web;
  web.set_workers(4);
  web.set_keepalive_requests(500);
  std::string conf = NginxServer::Config(web, "10.0.0.1", 8080, "/run/a7", /*as_root=*/false);
  EXPECT_NE(conf.find("worker_processes 4;"), std::string::npos);
  EXPECT_NE(conf.find("keepalive_requests 500;"), std::string::npos);
  EXPECT_NE(conf.find("listen 10.0.0.1:8080 reuseport;"), std::string::npos);
  EXPECT_NE(conf.find("access_log off;"), std::string::npos);
  EXPECT_NE(conf.find("location = /iommuvm-status { stub_status; }"), std::string::npos);
  EXPECT_EQ(conf.find("user root;"), std::string::npos);
}

}  // namespace
}  // namespace iommuvm::agent
