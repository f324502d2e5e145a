// memcaslap and wrk parsers on outputs recorded from the real tools
// installed here (memaslap v1.0 from libmemcached-tools 1.1.4, wrk
// debian/4.1.0), every field checked; memtier_benchmark on documents in its
// JSON layout (tests/fixtures/memtier/README.md says why they are composed).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "agent/workload/memcaslap.h"
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

namespace iommuvm::agent {
namespace {

using testing::Fixture;

TEST(MemcaslapParserTest, TimedRunWithEscapesAndPeriodicTables) {
  auto ops = ParseMemcaslap(Fixture("memcaslap/time-2s-stat.txt"));
  ASSERT_TRUE(ops.ok()) << ops.status();
  ASSERT_EQ(ops->size(), 2u);
  const v1::OperationResult& get = (*ops)[0];
  const v1::OperationResult& set = (*ops)[1];
  EXPECT_EQ(get.operation(), "GET");
  EXPECT_EQ(set.operation(), "SET");
  for (const auto& op : *ops) {
    SCOPED_TRACE(op.operation());
    EXPECT_GT(op.throughput_ops(), 0);
    EXPECT_GT(op.requests(), 0u);
    EXPECT_DOUBLE_EQ(op.duration_s(), 2.0);
    EXPECT_NEAR(op.throughput_ops(), op.requests() / 2.0, 1e-6);
    EXPECT_LE(op.latency_min_us(), op.latency_p50_us());
    EXPECT_LE(op.latency_p50_us(), op.latency_p90_us());
    EXPECT_LE(op.latency_p90_us(), op.latency_p99_us());
    EXPECT_LE(op.latency_p99_us(), op.latency_p999_us());
    EXPECT_LE(op.latency_p999_us(), op.latency_max_us());
    EXPECT_GT(op.latency_mean_us(), 0);
  }
  // About 9 gets for every set (memcaslap's default proportion).
  EXPECT_NEAR(get.throughput_ops() / set.throughput_ops(), 9.0, 0.5);
}

TEST(MemcaslapParserTest, RequestBoundRunWithRatioConfig) {
  std::string out = Fixture("memcaslap/requests-ratio-1to1.txt");
  auto ops = ParseMemcaslap(out);
  ASSERT_TRUE(ops.ok()) << ops.status();
  ASSERT_EQ(ops->size(), 2u);
  EXPECT_EQ((*ops)[0].requests() + (*ops)[1].requests(), 50000u);
  EXPECT_DOUBLE_EQ((*ops)[0].duration_s(), 0.4);
  EXPECT_NEAR(static_cast<double>((*ops)[0].requests()) / (*ops)[1].requests(), 1.0, 0.05);
  // 17983 of the 25000 gets sit in bucket 6, (32, 64] µs, and 3404 below:
  // the median is 32 + 32 * (12500 - 3404) / 17983 = 48.2 µs (the tool's
  // own average is 57 µs).
  EXPECT_NEAR((*ops)[0].latency_p50_us(), 48.19, 0.01);
  EXPECT_DOUBLE_EQ((*ops)[0].latency_mean_us(), 57);
  EXPECT_DOUBLE_EQ((*ops)[0].latency_min_us(), 11);
  EXPECT_DOUBLE_EQ((*ops)[0].latency_max_us(), 7270);
}

TEST(MemcaslapParserTest, RefusedConnectionIsAnError) {
  auto ops = ParseMemcaslap(Fixture("memcaslap/refused.txt"));
  ASSERT_FALSE(ops.ok());
  EXPECT_NE(ops.status().message().find("memcaslap reported no statistics"), std::string::npos);
  EXPECT_NE(ops.status().message().find("servers: 127.0.0.1:1"), std::string::npos);
}

// Fed in small chunks as the tool writes it, the periodic "Total
// Statistics" tables yield the interval throughput (TPS column); the
// per-operation tables and the final distributions do not.
TEST(MemcaslapParserTest, ProgressFromPeriodicTables) {
  std::string out = Fixture("memcaslap/time-2s-stat.txt");
  std::vector<double> tps;
  MemcaslapProgress progress([&](double v) { tps.push_back(v); });
  for (size_t i = 0; i < out.size(); i += 7) progress.Feed(absl::string_view(out).substr(i, 7));
  EXPECT_EQ(tps, (std::vector<double>{162224}));
}

TEST(MemcaslapParserTest, StripsTerminalEscapes) {
  EXPECT_EQ(StripTerminalEscapes("a\x1b[1;1H\x1b[2Jb"), "ab");
}

TEST(MemcaslapTest, CommandLineAndRatioConfig) {
  v1::RunLoad load;
  load.set_target_host("10.0.0.2");
  load.set_target_port(11211);
  load.set_clients(50);
  load.set_threads(4);
  load.set_duration_ms(30000);
  load.set_value_size(1024);
  load.set_ratio("1:9");
  Memcaslap m(nullptr);
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

TEST(WrkParserTest, OkRunEveryField) {
  auto r = ParseWrk(Fixture("wrk/ok-4KiB.txt"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->operation(), "GET");
  // The hook's line agrees with wrk's own report ("159355 requests in
  // 2.10s", "Latency 146.36us ... 4.35ms").
  EXPECT_EQ(r->requests(), 159355u);
  EXPECT_DOUBLE_EQ(r->duration_s(), 2.1003);
  EXPECT_NEAR(r->throughput_ops(), 159355 / 2.1003, 1e-6);
  EXPECT_NEAR(r->throughput_bytes(), 691121885 / 2.1003, 1e-3);
  EXPECT_DOUBLE_EQ(r->latency_mean_us(), 146.36);
  EXPECT_DOUBLE_EQ(r->latency_min_us(), 23);
  EXPECT_DOUBLE_EQ(r->latency_p50_us(), 125);
  EXPECT_DOUBLE_EQ(r->latency_p90_us(), 157);
  EXPECT_DOUBLE_EQ(r->latency_p99_us(), 716);
  EXPECT_DOUBLE_EQ(r->latency_p999_us(), 3445);
  EXPECT_DOUBLE_EQ(r->latency_max_us(), 4354);
  EXPECT_EQ(r->errors(), 0u);
  // Same numbers with or without --latency (the hook does not depend on it).
  auto plain = ParseWrk(Fixture("wrk/no-latency-flag.txt"));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_GT(plain->throughput_ops(), 0);
}

TEST(WrkParserTest, Non2xxResponsesAreErrors) {
  auto r = ParseWrk(Fixture("wrk/status-404.txt"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->errors(), 89677u);
  EXPECT_EQ(r->requests(), 89677u);
  EXPECT_EQ(r->errors_by_kind().size(), 1u);
  EXPECT_EQ(r->errors_by_kind().at("http_status"), 89677u);
  EXPECT_EQ(RequireServedWithoutErrors("wrk", {*r}).message(),
            "wrk saw 89677 errors (http_status 89677) in 89677 GET requests");
}

TEST(LoadGeneratorTest, ErrorsByKindAndZeroThroughputFailTheRun) {
  v1::OperationResult ok;
  ok.set_operation("GET");
  ok.set_throughput_ops(1000);
  EXPECT_TRUE(RequireServedWithoutErrors("t", {ok}).ok());
  v1::OperationResult idle = ok;
  idle.set_operation("SET");
  idle.set_throughput_ops(0);
  EXPECT_EQ(RequireServedWithoutErrors("t", {ok, idle}).message(),
            "t reported zero throughput for SET");
  v1::OperationResult bad = ok;
  bad.set_requests(40);
  bad.set_errors(3);
  (*bad.mutable_errors_by_kind())["timeout"] = 1;
  (*bad.mutable_errors_by_kind())["connect"] = 2;
  EXPECT_EQ(RequireServedWithoutErrors("t", {bad}).message(),
            "t saw 3 errors (connect 2, timeout 1) in 40 GET requests");
  // Socket errors and timeouts may pass (transient); wrong responses not.
  EXPECT_TRUE(absl::IsUnavailable(RequireServedWithoutErrors("t", {bad})));
  (*bad.mutable_errors_by_kind())["http_status"] = 1;
  EXPECT_TRUE(absl::IsFailedPrecondition(RequireServedWithoutErrors("t", {bad})));
  bad.clear_errors_by_kind();
  EXPECT_EQ(RequireServedWithoutErrors("t", {bad}).message(),
            "t saw 3 errors (unspecified 3) in 40 GET requests");
  EXPECT_EQ(DescribeErrors({{"connection", 1}}), "1 error (connection 1)");
}

TEST(WrkParserTest, RefusedConnectionCarriesWrksWords) {
  auto r = ParseWrk(Fixture("wrk/refused.txt"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "wrk printed no result: unable to connect to 127.0.0.1:1 Connection refused");
}

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
  auto app = MakeApplication("memcached", &runner);
  ASSERT_TRUE(app.ok());
  testing::SysrootBuilder dir;
  EXPECT_FALSE((*app)->Start(config, "127.0.0.1", dir.root(), absl::Seconds(1)).ok());
  ASSERT_EQ(runner.ran.size(), 1u);
  std::string expected = "taskset -c 0-1 memcached -l 127.0.0.1 -p 11311 -U 0 -v -t 4 -c 8192 -m 1024";
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
  auto gen = MakeLoadGenerator("redis-benchmark", &runner);
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
  EXPECT_TRUE(absl::IsUnavailable((*gen)->Run(load, dir.root(), absl::Seconds(5), &cancel).status()));
  died.err = "Invalid option \"--bogus\" or option argument missing\n";
  runner.results["redis-benchmark"] = died;
  EXPECT_FALSE(absl::IsUnavailable((*gen)->Run(load, dir.root(), absl::Seconds(5), &cancel).status()));
}

// wrk2's report (composed from its source; not packaged here) carries the
// same hook line: calibration lines and the HdrHistogram table around it
// change nothing.
TEST(WrkTest, Wrk2ReportParses) {
  auto r = ParseWrk(testing::Fixture("wrk/wrk2-composed-ok.txt"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->requests(), 19998u);
  EXPECT_NEAR(r->throughput_ops(), 19998 / 10.001034, 1e-6);
  EXPECT_DOUBLE_EQ(r->latency_p50_us(), 1190);
  EXPECT_DOUBLE_EQ(r->latency_p999_us(), 4870);
  EXPECT_DOUBLE_EQ(r->latency_max_us(), 6079);
}

TEST(WrkTest, CommandLinesForWrkAndWrk2) {
  v1::RunLoad load;
  load.set_target_host("10.0.0.2");
  load.set_target_port(8080);
  load.set_clients(64);
  load.set_threads(4);
  load.set_duration_ms(15000);
  load.set_file_size(4096);
  load.set_rate(50000);
  EXPECT_EQ(Wrk(nullptr, false).CommandLine(load),
            (std::vector<std::string>{"wrk", "-t", "4", "-c", "64", "-d", "15s", "--latency", "-s",
                                      "report.lua", "http://10.0.0.2:8080/file-4096"}));
  EXPECT_EQ(Wrk(nullptr, true).CommandLine(load),
            (std::vector<std::string>{"wrk2", "-t", "4", "-c", "64", "-d", "15s", "--latency",
                                      "-s", "report.lua", "-R", "50000",
                                      "http://10.0.0.2:8080/file-4096"}));
}

// Exposes the progress throttle of the LoadGenerator base.
class ProgressProbe final : public LoadGenerator {
 public:
  using LoadGenerator::ReportProgress;
  std::vector<std::string> CommandLine(const v1::RunLoad&) const override { return {}; }
  absl::StatusOr<LoadResult> Run(const v1::RunLoad&, const std::string&, absl::Duration,
                                 const std::atomic<bool>*) override {
    return LoadResult{};
  }
};

TEST(LoadGeneratorTest, ProgressIsAveragedDownToOneValuePerInterval) {
  ProgressProbe probe;
  std::vector<double> seen;
  probe.ReportProgress(5);  // nobody asked: dropped
  probe.set_progress([&](double r) { seen.push_back(r); }, absl::Seconds(1));
  absl::Time t = absl::FromUnixSeconds(1000);
  // redis-benchmark prints every 250 ms.
  for (double r : {100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0, 900.0}) {
    probe.ReportProgress(r, t);
    t += absl::Milliseconds(250);
  }
  // At 0 s (first, at once), at 1 s (mean of 0.25..1 s) and at 2 s.
  EXPECT_EQ(seen, (std::vector<double>{100, 350, 750}));
}

TEST(MemtierParserTest, Version2DocumentEveryField) {
  auto r = ParseMemtierJson(Fixture("memtier/2.x-redis-ratio-1to10.json"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->interrupted);
  EXPECT_TRUE(r->errors.empty());
  EXPECT_DOUBLE_EQ(r->duration_s, 2.0);
  ASSERT_EQ(r->operations.size(), 2u);
  const v1::OperationResult& set = r->operations[0];
  EXPECT_EQ(set.operation(), "SET");
  EXPECT_EQ(set.requests(), 18182u);
  EXPECT_DOUBLE_EQ(set.throughput_ops(), 9091);
  EXPECT_DOUBLE_EQ(set.throughput_bytes(), 938.54 * 1024);
  EXPECT_DOUBLE_EQ(set.latency_mean_us(), 512);
  EXPECT_DOUBLE_EQ(set.latency_min_us(), 87);
  EXPECT_DOUBLE_EQ(set.latency_max_us(), 7231);
  EXPECT_DOUBLE_EQ(set.duration_s(), 2.0);
  const v1::OperationResult& get = r->operations[1];
  EXPECT_EQ(get.operation(), "GET");
  EXPECT_EQ(get.requests(), 181818u);
  EXPECT_DOUBLE_EQ(get.throughput_ops(), 90909);
  EXPECT_DOUBLE_EQ(get.latency_p50_us(), 463);
  EXPECT_DOUBLE_EQ(get.latency_p90_us(), 687);
  EXPECT_DOUBLE_EQ(get.latency_p95_us(), 799);
  EXPECT_DOUBLE_EQ(get.latency_p99_us(), 1215);
  EXPECT_DOUBLE_EQ(get.latency_p999_us(), 3007);
  EXPECT_DOUBLE_EQ(get.latency_min_us(), 71);
  EXPECT_DOUBLE_EQ(get.latency_max_us(), 8015);
}

// memtier 1.3: no Runtime, no Count, no Percentile Latencies; the
// duration is the --test-time and the percentiles come from its histogram.
TEST(MemtierParserTest, Version13LayoutWithNanForTheCommandThatNeverRan) {
  auto r = ParseMemtierJson(Fixture("memtier/1.3-get-only.json"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->operations.size(), 1u);  // no SETs in a 0:1 ratio
  const v1::OperationResult& get = r->operations[0];
  EXPECT_EQ(get.operation(), "GET");
  EXPECT_DOUBLE_EQ(r->duration_s, 2);
  EXPECT_EQ(get.requests(), 200000u);  // Ops/sec x duration: 1.3 writes no Count
  EXPECT_DOUBLE_EQ(get.latency_mean_us(), 160);
  EXPECT_DOUBLE_EQ(get.latency_p50_us(), 160);   // first bucket at >= 50%
  EXPECT_DOUBLE_EQ(get.latency_p90_us(), 300);
  EXPECT_DOUBLE_EQ(get.latency_p99_us(), 400);
  EXPECT_DOUBLE_EQ(get.latency_p999_us(), 810);
  EXPECT_DOUBLE_EQ(get.latency_max_us(), 2000);
  EXPECT_FALSE(r->interrupted);
  // A request-bounded 1.3 run says neither its duration nor its counts.
  std::string bounded = Fixture("memtier/1.3-get-only.json");
  bounded.replace(bounded.find("\"Seconds\": 2"), 12, "\"Requests per client\": 100");
  EXPECT_THAT(ParseMemtierJson(bounded),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr("a request-bounded memtier 1.3 run")));
}

TEST(MemtierParserTest, InterruptedRunAndConnectionErrorsAreReported) {
  auto r = ParseMemtierJson(Fixture("memtier/2.x-interrupted-connection-errors.json"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->interrupted);
  EXPECT_EQ(r->errors, (std::map<std::string, uint64_t>{{"connection", 3}}));
}

TEST(MemtierParserTest, NotJsonOrNoStatsIsAnError) {
  EXPECT_EQ(ParseMemtierJson("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ParseMemtierJson("{\"configuration\": {}}").status().message().find("ALL STATS"),
            std::string::npos);
  EXPECT_NE(ParseMemtierJson("{\"ALL STATS\": {\"Runtime\": {\"Total duration\": 1000}, "
                                 "\"Sets\": {\"Ops/sec\": 0}}}")
                .status()
                .message()
                .find("no SET or GET"),
            std::string::npos);
}

TEST(MemtierParserTest, ProgressFromTheRewrittenStderrLine) {
  std::vector<double> rates;
  MemtierProgress progress([&](double r) { rates.push_back(r); });
  std::string text = Fixture("memtier/stderr-progress.txt");
  // Arrives in arbitrary chunks.
  for (size_t i = 0; i < text.size(); i += 37) progress.Feed(absl::string_view(text).substr(i, 37));
  EXPECT_EQ(rates, (std::vector<double>{96412, 99932, 101321}));
}

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
  MemtierBenchmark m(nullptr);
  EXPECT_EQ(m.CommandLine(load),
            (std::vector<std::string>{
                "memtier_benchmark", "--server=10.0.0.2", "--port=11211",
                "--protocol=memcache_text", "--threads=4", "--clients=12", "--ratio=1:4",
                "--pipeline=1", "--data-size=512", "--key-prefix=memtier-", "--key-pattern=R:R",
                "--distinct-client-seed", "--hide-histogram",
                "--print-percentiles=50,90,95,99,99.9", "--json-out-file=memtier.json",
                "--key-minimum=0", "--key-maximum=9999",
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
  MemtierBenchmark m(&runner);
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
