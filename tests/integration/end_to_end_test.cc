// The real controller and two real agents as processes, real servers and
// load generators: the quickstart experiment (Redis with redis-benchmark,
// Memcached with memcaslap, nginx with wrk) end to end, as the demo runs it.
#include <gtest/gtest.h>

#include "tests/support/process_harness.h"

namespace iommuvm::testing {
namespace {

TEST(EndToEndTest, QuickstartRunsEveryRunAndStoresEverySample) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(h.StartCluster(&c));

  CommandResult r = h.Cli({"submit", IOMMUVM_SOURCE_DIR "/experiments/quickstart.yaml", "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << c.controller.Log();
  EXPECT_NE(r.out.find("experiment 1 SUCCEEDED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("12/12 runs (12 ok, 0 failed)"), std::string::npos) << r.out;

  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 12);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs"), 12);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempts WHERE state = 'SUCCEEDED'"), 12)
      << c.controller.Log();
  // One row per operation: 6 redis, 3 x GET+SET memcaslap, 3 wrk; every one
  // plausible (throughput > 0, p50 <= p99 <= max, no errors).
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM run_results"), 15);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM run_results WHERE throughput_ops > 0 "
                    "AND latency_p50_us > 0 AND latency_p50_us <= latency_p99_us "
                    "AND latency_p99_us <= latency_max_us AND errors = 0"),
            15);
  for (const auto& [tool, rows] : {std::pair{"redis-benchmark", 6}, std::pair{"memcaslap", 6},
                                   std::pair{"wrk", 3}}) {
    EXPECT_EQ(h.Count(std::string("SELECT COUNT(*) FROM run_results WHERE tool = '") + tool + "'"),
              rows)
        << tool;
  }
  // Every wrk response carried the 4 KiB file (plus headers).
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM run_results WHERE tool = 'wrk' AND "
                    "throughput_bytes > throughput_ops * 4096"),
            3);
  // Every sample an agent reported sending is stored, exactly once.
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempts a WHERE a.samples_reported != "
                    "(SELECT COUNT(*) FROM metric_samples m WHERE m.attempt_id = a.id)"),
            0);
  EXPECT_GT(h.Count("SELECT MIN(samples_reported) FROM attempts"), 0);
  // Evidence of what the server node booted with, and the probe's verdict,
  // is kept per attempt.
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'assigned.boot_id'"), 12);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'verify.detected' "
                    "AND value != ''"),
            12);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempt_evidence WHERE key = 'server.inventory' "
                    "AND value LIKE '%cpuVendor%'"),
            12);

  // Telemetry from every collector that exists here, on both nodes, for
  // every attempt; the IOMMU PMU one said once that it is unavailable.
  for (const char* metric : {"node_cpu_utilization", "node_interrupts_total_per_second",
                             "node_softirqs_per_second", "node_network_packets_per_second",
                             "node_memory_used_bytes"}) {
    EXPECT_EQ(h.Count(std::string("SELECT COUNT(DISTINCT attempt_id) FROM metric_samples "
                                  "WHERE name = '") + metric + "'"),
              12)
        << metric;
  }
  EXPECT_EQ(h.Count("SELECT COUNT(DISTINCT attempt_id) FROM metric_samples WHERE name = "
                    "'node_network_packets_per_second' AND agent_id = 'server-1' AND value > 0"),
            12);
  EXPECT_GE(h.Count("SELECT COUNT(*) FROM metric_samples WHERE name = "
                    "'telemetry_collector_unavailable' AND labels LIKE '%collector=iommu_pmu%'"),
            1);
  // Every server's own request counter moved while it was measured.
  for (const auto& [app, attempts] : {std::pair{"redis", 6}, std::pair{"memcached", 3},
                                      std::pair{"nginx", 3}}) {
    EXPECT_EQ(h.Count(std::string("SELECT COUNT(DISTINCT attempt_id) FROM metric_samples WHERE "
                                  "name = 'server_requests_per_second' AND labels = 'app=") +
                      app + "' AND value > 0 AND agent_id = 'server-1'"),
              attempts)
        << app;
  }
  // The generators' own throughput streamed while they ran: memcaslap's
  // table every second (3 s runs), redis-benchmark's progress line every
  // 250 ms (runs of about a second).
  EXPECT_EQ(h.Count("SELECT COUNT(DISTINCT attempt_id) FROM metric_samples WHERE name = "
                    "'load_throughput_ops_per_second' AND labels = 'tool=memcaslap' AND value > 0"),
            3);
  EXPECT_EQ(h.Count("SELECT COUNT(DISTINCT attempt_id) FROM metric_samples WHERE name = "
                    "'load_throughput_ops_per_second' AND labels = 'tool=redis-benchmark' "
                    "AND value > 0"),
            6);

  // nginx runs warmed up first (unmeasured): one warmup per nginx attempt.
  std::string client_log = c.client.Log();
  size_t warmups = 0;
  for (size_t at = client_log.find("warmup of attempt"); at != std::string::npos;
       at = client_log.find("warmup of attempt", at + 1)) {
    ++warmups;
  }
  EXPECT_EQ(warmups, 3u) << client_log;

  // Every attempt kept its server's log as an artifact.
  EXPECT_EQ(h.Count("SELECT COUNT(DISTINCT attempt_id) FROM artifacts WHERE name LIKE '%.log'"),
            12);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM artifacts WHERE name = 'redis-server.log' AND "
                    "content LIKE '%Ready to accept connections%'"),
            6);

  CommandResult results = h.Cli({"results", "1", "--format", "csv"});
  ASSERT_EQ(results.exit_code, 0) << results.err;
  EXPECT_NE(results.out.find("srv_cpu_pct,srv_irq_per_s,srv_pkt_per_s"), std::string::npos)
      << results.out;
  EXPECT_EQ(std::count(results.out.begin(), results.out.end(), '\n'), 16) << results.out;
  CommandResult agents = h.Cli({"agents", "--format", "json"});
  EXPECT_NE(agents.out.find("\"agent\": \"server-1\""), std::string::npos) << agents.out;

  // The results view answers SQL, read-only.
  CommandResult q = h.Cli({"query", "--db", h.db_path(), "--format", "csv",
                           "SELECT workload, iommu, COUNT(*) AS n, MIN(throughput_ops) > 0 AS ok "
                           "FROM results GROUP BY 1, 2 ORDER BY 1"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_EQ(q.out,
            "workload,iommu,n,ok\nmemcached,current,6,1\nnginx,current,3,1\n"
            "redis-get,current,3,1\nredis-set,current,3,1\n");
  CommandResult write = h.Cli({"query", "--db", h.db_path(), "DELETE FROM run_results"});
  EXPECT_EQ(write.exit_code, 2);
  EXPECT_NE(write.err.find("refuses statements that write"), std::string::npos) << write.err;
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM run_results"), 15);
  CommandResult schema = h.Cli({"query", "--db", h.db_path(), "--schema"});
  EXPECT_NE(schema.out.find("verified_mode"), std::string::npos) << schema.out;

  // What each attempt kept, by run index: the generator's raw output and
  // the server's log, each printable as it is.
  CommandResult listed = h.Cli({"artifacts", "1", "0", "--format", "csv"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("1,redis-benchmark.out,"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("1,redis-server.log,"), std::string::npos) << listed.out;
  CommandResult raw = h.Cli({"artifacts", "1", "0", "redis-benchmark.out"});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_NE(raw.out.find("requests per second"), std::string::npos) << raw.out;
  CommandResult missing = h.Cli({"artifacts", "1", "0", "wrk.out"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("kept no artifact 'wrk.out'; it kept: redis-benchmark.out, "
                             "redis-server.log"),
            std::string::npos)
      << missing.err;
  CommandResult no_run = h.Cli({"artifacts", "1", "99"});
  EXPECT_NE(no_run.err.find("experiment 1 has no run 99 (it has 12 runs, from 0)"),
            std::string::npos)
      << no_run.err;
  CommandResult no_attempt = h.Cli({"artifacts", "1", "0", "--attempt", "3"});
  EXPECT_NE(no_attempt.err.find("run 0 has 1 attempt; there is no attempt 3"), std::string::npos)
      << no_attempt.err;
}

TEST(EndToEndTest, CancelStopsTheExperimentAndItsServers) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(h.StartCluster(&c));
  CommandResult submit = h.Cli({"submit", h.WriteFile("long.yaml", QuickSpec(10, 200000))});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM attempts WHERE state = 'RUNNING'", 1,
                             absl::Seconds(30)));
  CommandResult cancel = h.Cli({"cancel", "1"});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_NE(cancel.out.find("experiment 1 CANCELLED"), std::string::npos) << cancel.out;
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state IN ('PENDING', 'ACTIVE')"), 0);
  EXPECT_GT(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'CANCELLED'"), 15);
  // The running server is stopped by the cleanup step.
  EXPECT_TRUE(c.server.WaitForLog("server of attempt 1 stopped", absl::Seconds(10)))
      << c.server.Log();
  CommandResult status = h.Cli({"status", "1", "--format", "json"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("\"state\": \"CANCELLED\""), std::string::npos) << status.out;
}

// `iommuvm validate --nodes`: the spec against the registered nodes, as a
// submit checks it, with nothing stored; plain `validate` needs no
// controller.
TEST(EndToEndTest, ValidateAgainstTheNodesStoresNothing) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(h.StartCluster(&c));
  std::string good = h.WriteFile("good.yaml", QuickSpec(1));
  CommandResult ok = h.Cli({"validate", good, "--nodes"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("valid, also against the nodes registered at"), std::string::npos)
      << ok.out;
  std::string spec = QuickSpec(1);
  spec += "nodes:\n  pairs: [{server: nowhere, client: client-1}]\n";
  std::string bad = h.WriteFile("bad.yaml", spec);
  EXPECT_EQ(h.Cli({"validate", bad}).exit_code, 0);  // fine as a file
  CommandResult refused = h.Cli({"validate", bad, "--nodes"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("bad.yaml:"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("nowhere"), std::string::npos) << refused.err;
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM experiments"), 0);
}

// `iommuvm rerun`: runs a cancel left without results are queued again in
// the same experiment, a cell at a time or all of them, and the experiment
// ends with every run measured.
TEST(EndToEndTest, RerunMeasuresWhatACancelLeftOut) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(h.StartCluster(&c));
  CommandResult submit = h.Cli({"submit", h.WriteFile("two.yaml", QuickSpec(1, 5000))});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  ASSERT_EQ(h.Cli({"cancel", "1"}).exit_code, 0);
  ASSERT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'CANCELLED'"), 2);

  CommandResult one =
      h.Cli({"rerun", "1", "--cell", "workload=redis-get", "--wait"}, absl::Minutes(2));
  EXPECT_NE(one.out.find("experiment 1: 1 runs queued again (0)"), std::string::npos) << one.out;
  EXPECT_NE(one.exit_code, 0) << "redis-set is still cancelled: the experiment failed";
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 1);

  CommandResult rest = h.Cli({"rerun", "1", "--wait"}, absl::Minutes(2));
  ASSERT_EQ(rest.exit_code, 0) << rest.out << rest.err << c.controller.Log();
  EXPECT_NE(rest.out.find("experiment 1: 1 runs queued again (1)"), std::string::npos) << rest.out;
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 2);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs"), 2);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM experiments WHERE state = 'SUCCEEDED'"), 1);

  CommandResult none = h.Cli({"rerun", "1"});
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_NE(none.out.find("no failed or cancelled runs to rerun"), std::string::npos) << none.out;
  EXPECT_EQ(h.Cli({"rerun", "1", "--cell", "colour=red"}).exit_code, 2);
}

}  // namespace
}  // namespace iommuvm::testing
