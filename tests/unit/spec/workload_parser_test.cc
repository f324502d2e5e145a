// The workload sections of a spec: every key round-trips, defaults follow
// the app, new axes apply to their workloads.
#include "spec/workload_parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "spec/matrix.h"
#include "spec/params.h"
#include "spec/spec_parser.h"

namespace iommuvm::spec {
namespace {

constexpr char kAllWorkloads[] = R"(name: all
matrix:
  workload: [r, mc, mt, web, web2]
workloads:
  r:
    app: redis
    server: {port: 7000, io_threads: 4, max_memory: 1GiB, cores: "0-3,8", preload: true}
    generator:
      tool: redis-benchmark
      tests: [get, set]
      clients: 64
      requests: 200000
      pipeline: 16
      value_size: 4KiB
      keyspace: 100000
      threads: 2
      warmup: 5s
  mc:
    app: memcached
    server: {threads: 8, max_memory: 2GiB, connections: 8192}
    generator:
      tool: memcaslap
      clients: 128
      threads: 4
      duration: 20s
      ratio: "1:9"
      value_size: 1KiB
  mt:
    app: memcached
    server: {preload: true}
    generator:
      tool: memtier_benchmark
      requests: 50000
      pipeline: 4
      keyspace: 50000
  web:
    app: nginx
    server: {workers: 4, keepalive_requests: 500, cores: "2"}
    generator:
      tool: wrk
      clients: 256
      threads: 2
      duration: 15s
      warmup: 3s
      file_size: 64KiB
  web2:
    app: nginx
    generator:
      tool: wrk2
      file_size: 4KiB
      rate: 25k/s
nodes:
  selector: {hw: r650, rack: a}
  count: 2
telemetry:
  interval: 2s
  collectors: [cpu, network]
)";

TEST(WorkloadSpecTest, EveryWorkloadKeyRoundTrips) {
  ParseResult r = ParseSpec(kAllWorkloads);
  ASSERT_TRUE(r.spec) << r.errors[0].Format("all");
  const ExperimentSpec& s = *r.spec;
  const WorkloadSpec& redis = s.workloads.at("r");
  EXPECT_EQ(redis.server.port, 7000u);
  EXPECT_EQ(redis.server.io_threads, 4u);
  EXPECT_EQ(redis.server.max_memory_bytes, 1ull << 30);
  EXPECT_EQ(redis.server.cores, "0-3,8");
  EXPECT_TRUE(redis.server.preload);
  EXPECT_EQ(redis.generator.tests, (std::vector<std::string>{"get", "set"}));
  EXPECT_EQ(redis.generator.clients, 64u);
  EXPECT_EQ(redis.generator.requests, 200000u);
  EXPECT_EQ(redis.generator.pipeline, 16u);
  EXPECT_EQ(redis.generator.value_size, 4096u);
  EXPECT_EQ(redis.generator.keyspace, 100000u);
  EXPECT_EQ(redis.generator.threads, 2u);
  EXPECT_EQ(redis.generator.warmup, absl::Seconds(5));
  EXPECT_EQ(redis.generator.duration, absl::ZeroDuration());

  const WorkloadSpec& mc = s.workloads.at("mc");
  EXPECT_EQ(mc.server.threads, 8u);
  EXPECT_EQ(mc.server.max_memory_bytes, 2ull << 30);
  EXPECT_EQ(mc.server.connections, 8192u);
  EXPECT_EQ(mc.generator.tool, "memcaslap");
  EXPECT_EQ(mc.generator.duration, absl::Seconds(20));
  EXPECT_EQ(mc.generator.requests, 0u);
  EXPECT_EQ(mc.generator.ratio, "1:9");
  EXPECT_EQ(mc.generator.value_size, 1024u);

  const WorkloadSpec& mt = s.workloads.at("mt");
  EXPECT_EQ(mt.generator.tool, "memtier_benchmark");
  EXPECT_EQ(mt.generator.requests, 50000u);
  EXPECT_EQ(mt.generator.duration, absl::ZeroDuration());
  EXPECT_EQ(mt.generator.pipeline, 4u);
  EXPECT_TRUE(mt.server.preload);
  EXPECT_EQ(mt.generator.keyspace, 50000u);

  const WorkloadSpec& web = s.workloads.at("web");
  EXPECT_EQ(web.server.workers, 4u);
  EXPECT_EQ(web.server.keepalive_requests, 500u);
  EXPECT_EQ(web.generator.clients, 256u);
  EXPECT_EQ(web.generator.duration, absl::Seconds(15));
  EXPECT_EQ(web.generator.warmup, absl::Seconds(3));
  EXPECT_EQ(web.generator.file_size, 64u << 10);
  EXPECT_EQ(s.workloads.at("web2").generator.rate, 25000u);
  EXPECT_EQ(s.workloads.at("web2").generator.duration, absl::Seconds(30));  // default

  EXPECT_EQ(s.nodes.selector, (std::map<std::string, std::string>{{"hw", "r650"}, {"rack", "a"}}));
  EXPECT_EQ(s.nodes.count, 2u);
  EXPECT_TRUE(s.nodes.pairs.empty());
  EXPECT_EQ(s.telemetry.interval, absl::Seconds(2));
  EXPECT_EQ(s.telemetry.collectors, (std::vector<std::string>{"cpu", "network"}));
}

TEST(WorkloadSpecTest, DefaultsFollowTheApp) {
  ParseResult r = ParseSpec(R"(name: d
matrix:
  workload: [mc, web]
workloads:
  mc:
    app: memcached
    generator: {}
  web:
    app: nginx
    generator: {file_size: 1KiB}
)");
  ASSERT_TRUE(r.spec) << r.errors[0].Format("d");
  EXPECT_EQ(r.spec->workloads.at("mc").generator.tool, "memcaslap");
  EXPECT_EQ(r.spec->workloads.at("mc").generator.duration, absl::Seconds(30));
  EXPECT_EQ(r.spec->workloads.at("web").generator.tool, "wrk");
  EXPECT_EQ(r.spec->telemetry.collectors, TelemetryCollectors());
}

TEST(WorkloadSpecTest, NewAxesApplyToTheirWorkloads) {
  ParseResult r = ParseSpec(R"(name: a
matrix:
  workload: [web, r]
  rate: [10k/s, 20k/s]
  duration: [10s, 1m]
  exclude:
    - {workload: r, rate: 20k/s}
workloads:
  r:
    app: redis
    generator: {requests: 1000}
  web:
    app: nginx
    generator: {tool: wrk2, file_size: 4KiB, rate: 1k/s}
)");
  ASSERT_TRUE(r.spec) << r.errors[0].Format("a");
  auto runs = ExpandMatrix(*r.spec);
  // web: 2 rates x 2 durations; r: neither axis applies, so one point.
  ASSERT_EQ(runs.size(), 5u);
  EXPECT_EQ(runs.back().workload, "r");
  EXPECT_TRUE(runs.back().params.empty());
  const RunPoint& p = runs.front();
  EXPECT_EQ(p.workload, "web");
  WorkloadSpec w = ApplyParams(r.spec->workloads.at(p.workload), p.params);
  EXPECT_EQ(w.generator.rate, 10000u);
  EXPECT_EQ(w.generator.duration, absl::Seconds(10));
  EXPECT_TRUE(AxisAppliesTo("rate", r.spec->workloads.at("web")));
  EXPECT_FALSE(AxisAppliesTo("rate", r.spec->workloads.at("r")));
  EXPECT_FALSE(AxisAppliesTo("duration", r.spec->workloads.at("r")));
}

TEST(WorkloadSpecTest, NetworkPathWorkloads) {
  ParseResult r = ParseSpec(R"(name: net
matrix:
  workload: [bulk, rr]
  flows: [1, 4]
  message_size: [64, 1KiB]
workloads:
  bulk:
    app: iperf3
    server: {cores: "8-11"}
    generator:
      flows: 2
      duration: 20s
      warmup: 2s
      congestion: bbr
      socket_buffer: 4MiB
      write_size: 128KiB
      cores: "12-15"
  rr:
    app: sockperf
    generator: {duration: 10s, message_size: 256, rate: 10k/s, cores: "3"}
)");
  ASSERT_TRUE(r.spec) << r.errors[0].Format("net");
  const GeneratorSpec& bulk = r.spec->workloads.at("bulk").generator;
  EXPECT_EQ(bulk.tool, "iperf3");
  EXPECT_EQ(bulk.flows, 2u);
  EXPECT_EQ(bulk.congestion, "bbr");
  EXPECT_EQ(bulk.socket_buffer, 4u << 20);
  EXPECT_EQ(bulk.write_size, 128u << 10);
  EXPECT_EQ(bulk.cores, "12-15");
  EXPECT_EQ(bulk.warmup, absl::Seconds(2));
  const GeneratorSpec& rr = r.spec->workloads.at("rr").generator;
  EXPECT_EQ(rr.tool, "sockperf");
  EXPECT_EQ(rr.message_size, 256u);
  EXPECT_EQ(rr.rate, 10000u);
  // flows varies iperf3 only, message_size sockperf only: 2 + 2 points.
  EXPECT_EQ(ExpandMatrix(*r.spec).size(), 4u);

  ParseResult bad = ParseSpec(R"(name: bad
matrix:
  workload: [r, rr]
workloads:
  r:
    app: redis
    generator: {flows: 4}
  rr:
    app: sockperf
    generator: {message_size: 8, cores: "x"}
)");
  ASSERT_FALSE(bad.spec);
  std::string all;
  for (const auto& e : bad.errors) all += e.Format("bad") + "\n";
  EXPECT_NE(all.find("workloads.r.generator.flows"), std::string::npos) << all;
  EXPECT_NE(all.find("'flows' does not apply to redis-benchmark (it is a key of iperf3)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("workloads.rr.generator.message_size"), std::string::npos) << all;
  EXPECT_NE(all.find("workloads.rr.generator.cores"), std::string::npos) << all;
}

}  // namespace
}  // namespace iommuvm::spec
