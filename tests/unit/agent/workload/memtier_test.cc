// memtier_benchmark's command line.
#include "agent/workload/memtier.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "agent/workload/memcaslap.h"
#include "agent/workload/memcaslap_parser.h"
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

v1::RunLoad MemtierLoad() {
  v1::RunLoad load;
  load.set_tool("memtier_benchmark");
  load.set_app("memcached");
  load.set_target_host("10.0.0.2");
  load.set_target_port(11211);
  load.set_clients(50);
  load.set_threads(4);
  load.set_requests(100000);
  load.set_value_size(512);
  load.set_keyspace(10000);
  load.set_ratio("1:4");
  return load;
}

TEST(MemtierTest, CommandLineSplitsClientsOverThreadsAndMatchesThePreloadedKeys) {
  v1::RunLoad load = MemtierLoad();
  MemtierBenchmark m(testing::HostEnv(nullptr));
  EXPECT_EQ(
      m.CommandLine(load),
      (std::vector<std::string>{
          "memtier_benchmark", "--server=10.0.0.2", "--port=11211", "--protocol=memcache_text",
          "--threads=4", "--clients=12", "--ratio=1:4", "--pipeline=1", "--data-size=512",
          "--key-prefix=memtier-", "--key-pattern=R:R", "--distinct-client-seed",
          "--hide-histogram", "--print-percentiles=50,90,95,99,99.9",
          "--json-out-file=memtier.json", "--key-minimum=0", "--key-maximum=9999",
          // 100000 requests over 48 connections, rounded up per client.
          "--requests=2084"}));
  // The preload writes exactly the keys memtier asks for.
  EXPECT_EQ(FormatKey("memtier-%d", 0), "memtier-0");
  EXPECT_EQ(FormatKey("memtier-%d", 9999), "memtier-9999");
  load.set_app("redis");
  load.set_requests(0);
  load.set_duration_ms(10500);
  auto argv = m.CommandLine(load);
  EXPECT_EQ(argv[3], "--protocol=redis");
  EXPECT_EQ(argv.back(), "--test-time=11");
}

TEST(MemtierTest, RunReadsItsJsonFileAndStreamsProgress) {
  testing::FakeCommandRunner runner;
  runner.installed = {"memtier_benchmark"};
  std::string document = Fixture("memtier/2.x-redis-ratio-1to10.json");
  runner.on_run = [&](const CommandSpec& spec) {
    if (spec.argv.size() < 2 || spec.argv[1] == "--version") return;
    std::ofstream(spec.cwd + "/memtier.json") << document;
    if (spec.on_stderr) spec.on_stderr(Fixture("memtier/stderr-progress.txt"));
  };
  runner.Answer("memtier_benchmark --version", "memtier_benchmark 2.1.1\nCopyright (C) 2011-2024");
  testing::SysrootBuilder dir;  // a temporary run directory
  MemtierBenchmark m(testing::HostEnv(&runner));
  std::vector<double> rates;
  m.set_progress([&](double r) { rates.push_back(r); }, absl::Seconds(1));
  auto r = m.Run(MemtierLoad(), dir.root(), absl::Seconds(5), nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tool_version, "memtier_benchmark 2.1.1");
  ASSERT_EQ(r->operations.size(), 2u);
  EXPECT_EQ(r->operations[1].requests(), 181818u);
  // Three progress lines arrived within one interval: the first is passed on.
  EXPECT_EQ(rates, (std::vector<double>{96412}));

  // An interrupted run, or one that saw connection errors, fails.
  document = Fixture("memtier/2.x-interrupted-connection-errors.json");
  EXPECT_EQ(m.Run(MemtierLoad(), dir.root(), absl::Seconds(5), nullptr).status().message(),
            "memtier_benchmark stopped before the full run");
  // A failed start keeps the tool's own words, and no earlier file is read.
  runner.on_run = nullptr;
  runner.results["memtier_benchmark"].exit_code = 1;
  runner.results["memtier_benchmark"].err = "Connection refused (111)";
  auto failed = m.Run(MemtierLoad(), dir.root(), absl::Seconds(5), nullptr);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(failed.status().message().find("Connection refused"), std::string::npos);
}

}  // namespace
}  // namespace iommuvm::agent
