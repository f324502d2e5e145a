#include "controller/store/migrations.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace iommuvm::store {

namespace {

// Migration 12's SQL, written out from its own list of keys (the keys as
// they were then: a later key needs a migration of its own).
absl::string_view ResultFactsMigration() {
  static const std::string kSql = [] {
    const std::vector<std::string> keys = {
        "host.verify.detected",  "load.ended_ms",    "load.generator_busy", "load.link_speed_mbps",
        "load.link_utilization", "load.started_ms",  "load.unsteady",       "server.env.cores",
        "server.simulated",      "verify.data_mode", "verify.detected",     "vm.guest_id"};
    // `each` with every key for %k, joined by `separator`.
    auto each = [&](const std::string& pattern, const char* separator) {
      std::vector<std::string> parts;
      for (const std::string& key : keys)
        parts.push_back(absl::StrReplaceAll(pattern, {{"%k", key}}));
      return absl::StrJoin(parts, separator);
    };
    const std::string in = absl::StrCat("(", each("'%k'", ", "), ")");
    // Sets the column of `row`.key to `value`, the others to themselves.
    auto set = [&](const std::string& row, const std::string& value) {
      return absl::StrCat("  UPDATE result_facts SET\n",
                          each(absl::StrCat("  \"%k\" = CASE WHEN ", row, ".key = '%k' THEN ",
                                            value, " ELSE \"%k\" END"),
                               ",\n"),
                          "\n  WHERE attempt_id = ", row, ".attempt_id;\n");
    };
    return absl::StrCat(
        "CREATE TABLE result_facts (\n  attempt_id INTEGER PRIMARY KEY REFERENCES attempts(id),\n",
        each("  \"%k\" TEXT", ",\n"), "\n);\n", "INSERT INTO result_facts SELECT attempt_id,\n",
        each("  MAX(CASE WHEN key = '%k' THEN value END)", ",\n"),
        "\nFROM result_evidence GROUP BY attempt_id;\n",
        "DROP TRIGGER result_evidence_inserted;\n"
        "DROP TRIGGER result_evidence_updated;\n"
        "DROP TRIGGER result_evidence_deleted;\n"
        "DROP TABLE result_evidence;\n",
        "CREATE TRIGGER result_fact_inserted AFTER INSERT ON attempt_evidence\nWHEN NEW.key IN ",
        in,
        "\nBEGIN\n"
        "  INSERT INTO result_facts (attempt_id) VALUES (NEW.attempt_id) ON CONFLICT DO NOTHING;\n",
        set("NEW", "NEW.value"), "END;\n",
        "CREATE TRIGGER result_fact_updated AFTER UPDATE ON attempt_evidence\nWHEN OLD.key IN ", in,
        " OR NEW.key IN ", in, "\nBEGIN\n", set("OLD", "NULL"),
        "  INSERT INTO result_facts (attempt_id) SELECT NEW.attempt_id WHERE NEW.key IN ", in,
        "\n  ON CONFLICT DO NOTHING;\n", set("NEW", "NEW.value"), "END;\n",
        "CREATE TRIGGER result_fact_deleted AFTER DELETE ON attempt_evidence\nWHEN OLD.key IN ", in,
        "\nBEGIN\n", set("OLD", "NULL"), "END;\n");
  }();
  return kSql;
}

}  // namespace

const std::vector<absl::string_view>& Migrations() {
  static const std::vector<absl::string_view> kMigrations = {
      // 1: experiments, runs, attempts, nodes, results, samples, events.
      R"sql(
CREATE TABLE experiments (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  spec_yaml TEXT NOT NULL,
  spec_sha256 TEXT NOT NULL,
  state TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  finished_ms INTEGER
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  idx INTEGER NOT NULL,
  iommu INTEGER NOT NULL,
  workload TEXT NOT NULL,
  vm TEXT NOT NULL,
  repetition INTEGER NOT NULL,
  state TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  UNIQUE (experiment_id, idx)
);
CREATE TABLE attempts (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  number INTEGER NOT NULL,
  state TEXT NOT NULL,
  server_node TEXT NOT NULL DEFAULT '',
  client_node TEXT NOT NULL DEFAULT '',
  step_id TEXT NOT NULL DEFAULT '',
  endpoint_host TEXT NOT NULL DEFAULT '',
  endpoint_port INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  samples_reported INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  UNIQUE (run_id, number)
);
CREATE INDEX attempts_by_state ON attempts(state);
CREATE TABLE attempt_evidence (
  attempt_id INTEGER NOT NULL REFERENCES attempts(id),
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (attempt_id, key)
) WITHOUT ROWID;
CREATE TABLE nodes (
  agent_id TEXT PRIMARY KEY,
  roles TEXT NOT NULL,
  labels TEXT NOT NULL,
  boot_id TEXT NOT NULL,
  kernel_cmdline TEXT NOT NULL,
  hostname TEXT NOT NULL,
  data_address TEXT NOT NULL,
  health TEXT NOT NULL,
  losses INTEGER NOT NULL DEFAULT 0,
  last_seen_ms INTEGER NOT NULL
);
CREATE TABLE run_results (
  id INTEGER PRIMARY KEY,
  attempt_id INTEGER NOT NULL REFERENCES attempts(id),
  run_id INTEGER NOT NULL REFERENCES runs(id),
  tool TEXT NOT NULL,
  tool_version TEXT NOT NULL,
  operation TEXT NOT NULL,
  throughput_ops REAL NOT NULL,
  throughput_bytes REAL NOT NULL,
  latency_mean_us REAL NOT NULL,
  latency_min_us REAL NOT NULL,
  latency_p50_us REAL NOT NULL,
  latency_p90_us REAL NOT NULL,
  latency_p95_us REAL NOT NULL,
  latency_p99_us REAL NOT NULL,
  latency_p999_us REAL NOT NULL,
  latency_max_us REAL NOT NULL,
  requests INTEGER NOT NULL,
  errors INTEGER NOT NULL,
  duration_s REAL NOT NULL
);
CREATE INDEX run_results_by_run ON run_results(run_id);
CREATE TABLE metric_samples (
  id INTEGER PRIMARY KEY,
  attempt_id INTEGER NOT NULL REFERENCES attempts(id),
  agent_id TEXT NOT NULL,
  name TEXT NOT NULL,
  labels TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  value REAL NOT NULL
);
CREATE INDEX metric_samples_by_attempt ON metric_samples(attempt_id);
CREATE TABLE ingested (
  agent_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (agent_id, seq)
) WITHOUT ROWID;
CREATE TABLE artifacts (
  attempt_id INTEGER NOT NULL REFERENCES attempts(id),
  name TEXT NOT NULL,
  content TEXT NOT NULL,
  PRIMARY KEY (attempt_id, name)
) WITHOUT ROWID;
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  experiment_id INTEGER,
  run_id INTEGER,
  attempt_id INTEGER,
  agent_id TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL,
  message TEXT NOT NULL
);
)sql",
      // 2: user-axis values of each run ("clients=16\nvalue_size=4096").
      R"sql(
ALTER TABLE runs ADD COLUMN params TEXT NOT NULL DEFAULT '';
)sql",
      // 3: node control: CPU vendor (picks Intel/AMD tokens), the IOMMU
      // mode the node's probe saw at registration, the inventory (JSON).
      R"sql(
ALTER TABLE nodes ADD COLUMN cpu_vendor TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN iommu_mode TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN inventory TEXT NOT NULL DEFAULT '';
)sql",
      // 4: the servers and load generators a node has, with versions
      // ("wrk=wrk debian/4.1.0-3+b2 ..."), for checks at submit time.
      R"sql(
ALTER TABLE nodes ADD COLUMN tools TEXT NOT NULL DEFAULT '';
)sql",
      // 5: `results`, the view to query: one row per measured operation of
      // a succeeded attempt, modes by name, the verified mode, the server
      // node's telemetry means (`iommuvm query "SELECT * FROM results"`).
      R"sql(
CREATE VIEW results AS
SELECT r.experiment_id AS experiment, e.name AS experiment_name, r.idx AS run,
       CASE r.iommu WHEN 1 THEN 'off' WHEN 2 THEN 'passthrough' WHEN 3 THEN 'lazy'
                    WHEN 4 THEN 'strict' WHEN 5 THEN 'current' ELSE '' END AS iommu,
       COALESCE((SELECT NULLIF(value, '') FROM attempt_evidence v WHERE v.attempt_id = a.id
                 AND v.key = 'verify.data_mode'),
                (SELECT value FROM attempt_evidence v WHERE v.attempt_id = a.id
                 AND v.key = 'verify.detected'), '') AS verified_mode,
       r.workload, r.vm, REPLACE(r.params, char(10), ',') AS params, r.repetition, a.id AS attempt, a.server_node AS server,
       a.client_node AS client, x.tool, x.tool_version, x.operation, x.throughput_ops,
       x.throughput_bytes, x.latency_mean_us, x.latency_min_us, x.latency_p50_us,
       x.latency_p90_us, x.latency_p95_us, x.latency_p99_us, x.latency_p999_us,
       x.latency_max_us, x.requests, x.errors, x.duration_s,
       (SELECT AVG(value) FROM metric_samples s WHERE s.attempt_id = a.id
          AND s.agent_id = a.server_node AND s.name = 'node_cpu_utilization'
          AND s.labels = '') AS server_cpu_utilization,
       (SELECT AVG(value) FROM metric_samples s WHERE s.attempt_id = a.id
          AND s.agent_id = a.server_node AND s.name = 'node_interrupts_total_per_second'
          AND s.labels = '') AS server_interrupts_per_second,
       (SELECT AVG(value) FROM metric_samples s WHERE s.attempt_id = a.id
          AND s.agent_id = a.server_node AND s.name = 'node_network_packets_per_second'
          AND s.labels = '') AS server_packets_per_second
FROM run_results x
JOIN attempts a ON a.id = x.attempt_id
JOIN runs r ON r.id = x.run_id
JOIN experiments e ON e.id = r.experiment_id
WHERE a.state = 'SUCCEEDED';
)sql",
      // 6: the epoch of each agent's outbox (its sequence numbers are
      // unique within one), and data messages refused for good: acked with
      // the reason so the agent stops resending them, shown by `agents`.
      R"sql(
ALTER TABLE nodes ADD COLUMN outbox_epoch TEXT NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0;
CREATE TABLE rejected_messages (
  agent_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  reason TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  PRIMARY KEY (agent_id, seq)
) WITHOUT ROWID;
-- Cleanups (stop the server, collect its logs) an ended attempt still owes
-- to its server node: sent again whenever that node registers, until it
-- reports the cleanup done.
CREATE TABLE pending_cleanups (
  attempt_id INTEGER PRIMARY KEY REFERENCES attempts(id),
  agent_id TEXT NOT NULL
);
)sql",
      // 7: the results view averages server telemetry over the measured
      // load window only (warmup, preload and idle excluded), takes CPU of
      // the server's pinned cores when it was pinned, says why a run was
      // unsteady, and marks runs on simulated nodes.
      R"sql(
DROP VIEW results;
CREATE VIEW results AS
WITH w AS (
  SELECT a.id AS attempt_id,
         CAST((SELECT value FROM attempt_evidence v WHERE v.attempt_id = a.id
               AND v.key = 'load.started_ms') AS INTEGER) AS from_ms,
         CAST((SELECT value FROM attempt_evidence v WHERE v.attempt_id = a.id
               AND v.key = 'load.ended_ms') AS INTEGER) AS to_ms
  FROM attempts a WHERE a.state = 'SUCCEEDED')
SELECT r.experiment_id AS experiment, e.name AS experiment_name, r.idx AS run,
       CASE r.iommu WHEN 1 THEN 'off' WHEN 2 THEN 'passthrough' WHEN 3 THEN 'lazy'
                    WHEN 4 THEN 'strict' WHEN 5 THEN 'current' ELSE '' END AS iommu,
       COALESCE((SELECT NULLIF(value, '') FROM attempt_evidence v WHERE v.attempt_id = a.id
                 AND v.key = 'verify.data_mode'),
                (SELECT value FROM attempt_evidence v WHERE v.attempt_id = a.id
                 AND v.key = 'verify.detected'), '') AS verified_mode,
       r.workload, r.vm, REPLACE(r.params, char(10), ',') AS params, r.repetition, a.id AS attempt, a.server_node AS server,
       a.client_node AS client, x.tool, x.tool_version, x.operation, x.throughput_ops,
       x.throughput_bytes, x.latency_mean_us, x.latency_min_us, x.latency_p50_us,
       x.latency_p90_us, x.latency_p95_us, x.latency_p99_us, x.latency_p999_us,
       x.latency_max_us, x.requests, x.errors, x.duration_s,
       COALESCE(
         (SELECT AVG(value) FROM metric_samples s WHERE s.attempt_id = a.id
            AND s.agent_id = a.server_node AND s.name = 'server_cores_cpu_utilization'
            AND s.labels = '' AND s.ts_ms > w.from_ms AND s.ts_ms <= w.to_ms),
         (SELECT AVG(value) FROM metric_samples s WHERE s.attempt_id = a.id
            AND s.agent_id = a.server_node AND s.name = 'node_cpu_utilization'
            AND s.labels = '' AND s.ts_ms > w.from_ms AND s.ts_ms <= w.to_ms))
         AS server_cpu_utilization,
       (SELECT AVG(value) FROM metric_samples s WHERE s.attempt_id = a.id
          AND s.agent_id = a.server_node AND s.name = 'node_interrupts_total_per_second'
          AND s.labels = '' AND s.ts_ms > w.from_ms AND s.ts_ms <= w.to_ms)
         AS server_interrupts_per_second,
       (SELECT AVG(value) FROM metric_samples s WHERE s.attempt_id = a.id
          AND s.agent_id = a.server_node AND s.name = 'node_network_packets_per_second'
          AND s.labels = '' AND s.ts_ms > w.from_ms AND s.ts_ms <= w.to_ms)
         AS server_packets_per_second,
       COALESCE((SELECT value FROM attempt_evidence v WHERE v.attempt_id = a.id
                 AND v.key = 'load.unsteady'), '') AS unsteady,
       COALESCE((SELECT value FROM attempt_evidence v WHERE v.attempt_id = a.id
                 AND v.key = 'server.simulated'), '') = 'true' AS simulated
FROM run_results x
JOIN attempts a ON a.id = x.attempt_id
JOIN w ON w.attempt_id = a.id
JOIN runs r ON r.id = x.run_id
JOIN experiments e ON e.id = r.experiment_id
WHERE a.state = 'SUCCEEDED';
)sql",
      // 8: why a node is quarantined (a boot it did not come back from).
      "ALTER TABLE nodes ADD COLUMN health_reason TEXT NOT NULL DEFAULT '';",
      // 9: experiments of 100k runs. Indexes for per-experiment counts and
      // states and for the switch times (read at every re-plan and by
      // `iommuvm agents`); change numbers, so a watch sends only the runs
      // that changed (a retry's new attempt counts; a run's first does not).
      R"sql(
CREATE INDEX runs_by_state ON runs(experiment_id, state);
CREATE INDEX events_by_kind ON events(kind, attempt_id);
ALTER TABLE runs ADD COLUMN changed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_by_change ON runs(experiment_id, changed);
CREATE TABLE changes (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);
INSERT INTO changes VALUES (1, 0);
CREATE TRIGGER run_changed AFTER UPDATE OF state, error ON runs BEGIN
  UPDATE changes SET last = last + 1;
  UPDATE runs SET changed = (SELECT last FROM changes) WHERE id = NEW.id;
END;
CREATE TRIGGER attempt_changed AFTER UPDATE ON attempts BEGIN
  UPDATE changes SET last = last + 1;
  UPDATE runs SET changed = (SELECT last FROM changes) WHERE id = NEW.run_id;
END;
CREATE TRIGGER attempt_retried AFTER INSERT ON attempts WHEN NEW.number > 1 BEGIN
  UPDATE changes SET last = last + 1;
  UPDATE runs SET changed = (SELECT last FROM changes) WHERE id = NEW.run_id;
END;
)sql",
      // 10: results of finished runs at 100k. A copy of the evidence a
      // result row is made of (kResultEvidenceKeys, exactly), kept by
      // triggers: a page of rows reads ~9 short rows per attempt, side by
      // side, not every attempt's 4 KB of evidence (an index on the keys
      // instead costs a seek per key and attempt).
      R"sql(
CREATE TABLE result_evidence (
  attempt_id INTEGER NOT NULL REFERENCES attempts(id),
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (attempt_id, key)
) WITHOUT ROWID;
INSERT INTO result_evidence SELECT attempt_id, key, value FROM attempt_evidence
WHERE key IN ('host.verify.detected', 'load.ended_ms', 'load.generator_busy',
  'load.link_speed_mbps', 'load.link_utilization', 'load.started_ms', 'load.unsteady',
  'server.env.cores', 'server.simulated', 'verify.data_mode', 'verify.detected', 'vm.guest_id');
CREATE TRIGGER result_evidence_inserted AFTER INSERT ON attempt_evidence
WHEN NEW.key IN ('host.verify.detected', 'load.ended_ms', 'load.generator_busy',
  'load.link_speed_mbps', 'load.link_utilization', 'load.started_ms', 'load.unsteady',
  'server.env.cores', 'server.simulated', 'verify.data_mode', 'verify.detected', 'vm.guest_id')
BEGIN
  INSERT OR REPLACE INTO result_evidence VALUES (NEW.attempt_id, NEW.key, NEW.value);
END;
CREATE TRIGGER result_evidence_updated AFTER UPDATE ON attempt_evidence BEGIN
  DELETE FROM result_evidence WHERE attempt_id = OLD.attempt_id AND key = OLD.key;
  INSERT INTO result_evidence SELECT NEW.attempt_id, NEW.key, NEW.value
  WHERE NEW.key IN ('host.verify.detected', 'load.ended_ms', 'load.generator_busy',
  'load.link_speed_mbps', 'load.link_utilization', 'load.started_ms', 'load.unsteady',
  'server.env.cores', 'server.simulated', 'verify.data_mode', 'verify.detected', 'vm.guest_id');
END;
CREATE TRIGGER result_evidence_deleted AFTER DELETE ON attempt_evidence BEGIN
  DELETE FROM result_evidence WHERE attempt_id = OLD.attempt_id AND key = OLD.key;
END;
)sql",
      // 11: an ended attempt's samples, summarized when it ended (a batch
      // that comes later is dropped, so they never change): `results`
      // reads a few rows per attempt, not its thousands of samples. The
      // window they cover is kept with them; attempts that ended before
      // this are summarized when read.
      R"sql(
CREATE TABLE sample_summaries (
  attempt_id INTEGER PRIMARY KEY REFERENCES attempts(id),
  agent_id TEXT NOT NULL,
  from_ms INTEGER NOT NULL,
  to_ms INTEGER NOT NULL,
  samples INTEGER NOT NULL
);
CREATE TABLE sample_means (
  attempt_id INTEGER NOT NULL REFERENCES attempts(id),
  name TEXT NOT NULL,
  mean REAL NOT NULL,
  PRIMARY KEY (attempt_id, name)
) WITHOUT ROWID;
)sql",
      // 12: result rows' evidence as one row per attempt, a column per key
      // (kResultEvidenceKeys, exactly), kept by triggers: a page's
      // attempts are read with it in one join, not ~10 rows each after them.
      ResultFactsMigration(),
  };
  return kMigrations;
}

}  // namespace iommuvm::store
