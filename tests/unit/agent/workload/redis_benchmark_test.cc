// redis-benchmark as a load generator: losing the server mid-run is transient.
#include "agent/workload/redis_benchmark.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "agent/workload/memcaslap.h"
#include "agent/workload/memcaslap_parser.h"
#include "agent/workload/memtier.h"
#include "agent/workload/memtier_parser.h"
#include "agent/workload/nginx_server.h"
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

// The server's node died mid-run: redis-benchmark prints hiredis's error
// and exits 1. An outage is retried, not stored as a final failure.
TEST(RedisBenchmarkTest, LosingTheServerMidRunIsTransient) {
  testing::FakeCommandRunner runner;
  runner.installed = {"redis-benchmark"};
  CommandResult died;
  died.exit_code = 1;
  died.out = "GET: rps=81234.0 (overall: 80011.2) avg_msec=0.310 (overall: 0.311)\r";
  died.err = "Error: Connection reset by peer\n";
  runner.results["redis-benchmark"] = died;
  auto gen = MakeLoadGenerator("redis-benchmark", testing::HostEnv(&runner));
  ASSERT_TRUE(gen.ok());
  v1::RunLoad load;
  load.set_target_host("127.0.0.1");
  load.set_target_port(6379);
  load.add_tests("get");
  load.set_requests(100000);
  testing::SysrootBuilder dir;
  std::atomic<bool> cancel{false};
  auto r = (*gen)->Run(load, dir.root(), absl::Seconds(5), &cancel);
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("Connection reset by peer"), std::string::npos);
  // A server that could never be reached is an outage too; a usage error is not.
  died.err = "Could not connect to Redis at 127.0.0.1:6379: Connection refused\n";
  runner.results["redis-benchmark"] = died;
  EXPECT_TRUE(
      absl::IsUnavailable((*gen)->Run(load, dir.root(), absl::Seconds(5), &cancel).status()));
  died.err = "Invalid option \"--bogus\" or option argument missing\n";
  runner.results["redis-benchmark"] = died;
  EXPECT_FALSE(
      absl::IsUnavailable((*gen)->Run(load, dir.root(), absl::Seconds(5), &cancel).status()));
}

}  // namespace
}  // namespace iommuvm::agent
