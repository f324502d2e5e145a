// Agents killed or wiped mid-experiment, against the real binaries: every
// run still completes, each with exactly one result set, and no server an
// agent started outlives it.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/leftover_processes.h"
#include "agent/paths.h"
#include "common/sqlite.h"
#include "tests/support/process_harness.h"
#include "tests/support/scratch_disks.h"

namespace iommuvm::testing {
namespace {

void Kill(Daemon& d) {
  ::kill(d.process->pid(), SIGKILL);
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (d.process->Running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
}

// One result set per run, one per succeeded attempt, all runs succeeded.
// An attempt that failed after its load (the server's telemetry showed a
// stall, say) keeps its result set in `run_results` to explain it, but
// the `results` view and every comparison count succeeded attempts only.
void ExpectOneResultSetPerRun(Harness& h, int runs, int operations_per_run = 1) {
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), runs);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM results"), runs * operations_per_run)
      << h.Cli({"status", "1"}).out;
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempts a WHERE a.state = 'SUCCEEDED' AND "
                    "(SELECT COUNT(*) FROM run_results x WHERE x.attempt_id = a.id) != " +
                    std::to_string(operations_per_run)),
            0);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM (SELECT attempt_id FROM run_results GROUP BY "
                    "attempt_id HAVING COUNT(*) > " +
                    std::to_string(operations_per_run) + ")"),
            0);
  // Every sample the agents said they sent for a counted attempt is stored
  // once (a run whose server agent died is never counted, so samples of a
  // dead life cannot inflate or deflate one).
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempts a WHERE a.state = 'SUCCEEDED' AND "
                    "a.samples_reported != (SELECT COUNT(*) FROM metric_samples m "
                    "WHERE m.attempt_id = a.id)"),
            0);
}

std::string NginxSpec(int repetitions) {
  return absl::StrReplaceAll(QuickSpec(repetitions),
                             {{"workload: [redis-get, redis-set]", "workload: [nginx]"},
                              {"duration: 3s", "duration: 6s"}});
}

// A cluster running an nginx experiment of `repetitions` runs, 2 s into
// the first measured load.
void StartNginxLoad(Harness& h, Cluster* c, int repetitions) {
  ASSERT_NO_FATAL_FAILURE(h.StartCluster(c, {"--agent_grace=10s"}));
  ASSERT_EQ(h.Cli({"submit", h.WriteFile("n.yaml", NginxSpec(repetitions))}).exit_code, 0);
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM attempts WHERE state = 'RUNNING'", 1,
                             absl::Seconds(60)));
  absl::SleepFor(absl::Seconds(2));  // inside the measured load
}

// A re-imaged node, another --state_dir, a reused --id: the agent's
// numbers restart at 1 while the controller holds higher ones.
TEST(AgentKillTest, AWipedStateDirectoryMidExperimentLosesNothing) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(h.StartCluster(&c, {"--agent_grace=10s"}));
  ASSERT_EQ(h.Cli({"submit", h.WriteFile("q.yaml", QuickSpec(3, 50000))}).exit_code, 0);
  ASSERT_TRUE(
      h.WaitForCount("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'", 2, absl::Seconds(60)));
  Kill(c.client);
  std::filesystem::remove_all(h.dir() / "agent-client-1");
  c.client = h.StartAgent("client-1", "client");
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM experiments WHERE state = 'SUCCEEDED'", 1,
                             absl::Seconds(120)))
      << c.controller.Log() << c.client.Log();
  EXPECT_TRUE(c.client.WaitForLog("is new to the controller", absl::Seconds(1))) << c.client.Log();
  ExpectOneResultSetPerRun(h, 6);
}

// The outcome of a load and "this step is done" are one outbox transaction:
// killed right after it, the agent sends its result once and never runs
// the load again.
TEST(AgentKillTest, AClientKilledRightAfterItsResultStoresOneResultSet) {
  Harness h;
  Daemon controller = h.StartController({"--agent_grace=10s"});
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10)));
  Daemon server = h.StartAgent("server-1", "server");
  Daemon client = h.StartAgent("client-1", "client", {"IOMMUVM_FAULT=kill-after-result"});
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Seconds(20)));
  ASSERT_EQ(h.Cli({"submit", h.WriteFile("q.yaml", QuickSpec(1, 50000))}).exit_code, 0);
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (client.process->Running() && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(50));
  ASSERT_FALSE(client.process->Running()) << client.Log();
  EXPECT_NE(client.Log().find("fault injection: SIGKILL after the result"), std::string::npos);
  client = h.StartAgent("client-1", "client");
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM experiments WHERE state = 'SUCCEEDED'", 1,
                             absl::Seconds(90)))
      << controller.Log() << client.Log();
  ExpectOneResultSetPerRun(h, 2);
  EXPECT_NE(client.Log().find("already finished; not running it again"), std::string::npos)
      << client.Log();
}

// nginx's workers do not die with their master: killed mid-load, the
// server agent leaves them serving until its next life kills them, and the
// attempt whose server died can never count.
TEST(AgentKillTest, AServerAgentKilledMidLoadLeavesNoServerAndItsRunIsRetried) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(StartNginxLoad(h, &c, 1));
  std::string runs = h.dir() / "agent-server-1/runs";
  ASSERT_FALSE(agent::FindLeftovers("/proc", runs).empty()) << "nginx is not running";
  Kill(c.server);
  // nginx's master and its workers (which no parent-death signal reaches)
  // die with the agent, by themselves: nothing serves on without it.
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!agent::FindLeftovers("/proc", runs).empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(agent::FindLeftovers("/proc", runs).empty()) << "nginx outlived its agent";
  c.server = h.StartAgent("server-1", "server");
  ASSERT_TRUE(c.server.WaitForLog("registered", absl::Seconds(20)) ||
              c.server.WaitForLog("connected to controller", absl::Seconds(20)));
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM experiments WHERE state = 'SUCCEEDED'", 1,
                             absl::Seconds(120)))
      << c.controller.Log() << c.server.Log();
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempts WHERE state = 'SUCCEEDED'"), 1);
  EXPECT_GE(h.Count("SELECT COUNT(*) FROM attempts WHERE state IN ('FAILED', 'LOST')"), 1);
  ExpectOneResultSetPerRun(h, 1);
  EXPECT_TRUE(agent::FindLeftovers("/proc", runs).empty());
}

// The agent's children that are forks of it, not programs it ran: the
// guardians of its servers' process groups.
std::vector<pid_t> GuardiansOf(pid_t agent) {
  std::error_code ec;
  std::string exe = std::filesystem::read_symlink(absl::StrCat("/proc/", agent, "/exe"), ec);
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    size_t paren = line.rfind(')');
    std::vector<std::string> fields =
        absl::StrSplit(line.substr(paren == std::string::npos ? 0 : paren + 2), ' ');
    pid_t ppid = 0;
    if (fields.size() < 2 || !absl::SimpleAtoi(fields[1], &ppid) || ppid != agent) continue;
    std::error_code e2;
    if (std::filesystem::read_symlink(entry.path() / "exe", e2) == exe) out.push_back(pid);
  }
  return out;
}

// What outlives an agent whose guardians died with it (the OOM killer, a
// `kill -9` of its whole tree) is killed by its next life at start.
TEST(AgentKillTest, LeftoversOfAnEarlierLifeAreKilledAtStart) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(StartNginxLoad(h, &c, 1));
  std::string runs = h.dir() / "agent-server-1/runs";
  std::vector<pid_t> guardians = GuardiansOf(c.server.process->pid());
  ASSERT_FALSE(guardians.empty()) << "no guardian of the server's process groups";
  for (pid_t g : guardians) ::kill(g, SIGKILL);
  Kill(c.server);
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_FALSE(agent::FindLeftovers("/proc", runs).empty())
      << "with its guardian gone, nginx's workers outlive the agent";
  c.server = h.StartAgent("server-1", "server");
  ASSERT_TRUE(c.server.WaitForLog("by an earlier life of this agent", absl::Seconds(20)))
      << c.server.Log();
  EXPECT_TRUE(agent::FindLeftovers("/proc", runs).empty());
}

// The client dies mid-load: its generator dies with it, the restarted
// agent reruns or the attempt is retried, and one result set counts.
TEST(AgentKillTest, AClientKilledMidLoadLeavesOneResultSetAndNoGenerator) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(StartNginxLoad(h, &c, 2));
  Kill(c.client);
  std::string runs = h.dir() / "agent-client-1/runs";
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!agent::FindLeftovers("/proc", runs).empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(agent::FindLeftovers("/proc", runs).empty()) << "wrk outlived its agent";
  c.client = h.StartAgent("client-1", "client");
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM experiments WHERE state = 'SUCCEEDED'", 1,
                             absl::Seconds(120)))
      << c.controller.Log() << c.client.Log();
  ExpectOneResultSetPerRun(h, 2);
}

// Everything dies at once mid-load and comes back: the experiment ends
// with every run measured once and nothing left running.
TEST(AgentKillTest, BothAgentsAndTheControllerKilledTogether) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(StartNginxLoad(h, &c, 2));
  for (Daemon* d : {&c.controller, &c.server, &c.client}) Kill(*d);
  c.controller = h.StartController({"--agent_grace=10s"});
  c.server = h.StartAgent("server-1", "server");
  c.client = h.StartAgent("client-1", "client");
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM experiments WHERE state = 'SUCCEEDED'", 1,
                             absl::Seconds(150)))
      << c.controller.Log() << c.server.Log() << c.client.Log();
  ExpectOneResultSetPerRun(h, 2);
  for (const char* agent : {"agent-server-1/runs", "agent-client-1/runs"}) {
    EXPECT_TRUE(agent::FindLeftovers("/proc", h.dir() / agent).empty()) << agent;
  }
}

// The controller is away longer than timeouts.run (+ its 10 s slack) while
// the agents finish: the run is not failed for the controller's absence,
// and the result the client held in its outbox is the one that counts.
TEST(AgentKillTest, ControllerDowntimeLongerThanTheRunTimeoutIsNotTheRunsFault) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(h.StartCluster(&c, {"--agent_grace=60s"}));
  // A 1 s warmup and a 2 s load, well inside timeouts.run (5 s).
  std::string spec = absl::StrReplaceAll(
      NginxSpec(1), {{"  run: 2m", "  run: 5s"}, {"duration: 6s", "duration: 2s"}});
  ASSERT_NE(spec.find("run: 5s"), std::string::npos);
  ASSERT_EQ(h.Cli({"submit", h.WriteFile("n.yaml", spec)}).exit_code, 0);
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM attempts WHERE state = 'RUNNING'", 1,
                             absl::Seconds(60)));
  Kill(c.controller);
  absl::SleepFor(absl::Seconds(17));  // > 5 s + 10 s slack; the load ends meanwhile
  c.controller = h.StartController({"--agent_grace=60s"});
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM experiments WHERE state = 'SUCCEEDED'", 1,
                             absl::Seconds(60)))
      << c.controller.Log();
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempts"), 1) << "no retry was needed";
  ExpectOneResultSetPerRun(h, 1);
}

// A cluster whose client keeps its state on `disk`, a small file system
// the test fills; no disk: this machine cannot mount one (skipped).
void StartWithClientOnSmallDisk(Harness& h, Cluster* c, std::unique_ptr<SmallDisk>* disk) {
  std::string mnt = h.dir() / "small";
  SmallDisk::Mount(mnt, disk);
  if (!*disk) return;
  c->controller = h.StartController({"--agent_grace=10s"});
  ASSERT_TRUE(c->controller.WaitForLog("listening on", absl::Seconds(10)));
  c->server = h.StartAgent("server-1", "server");
  c->client = h.StartAgent("client-1", "client", {}, {"--state_dir", mnt + "/client"});
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Seconds(20)));
}

// The agent's disk fills up mid-experiment: outcomes wait in the step
// (never dropped, never marked done) and go out when space returns, with one
// log line per change; every run still ends measured once.
TEST(AgentKillTest, AFullAgentDiskDelaysButLosesNoResult) {
  Harness h;
  Cluster c;
  std::unique_ptr<SmallDisk> disk;
  ASSERT_NO_FATAL_FAILURE(StartWithClientOnSmallDisk(h, &c, &disk));
  if (!disk) return;  // skipped
  ASSERT_EQ(h.Cli({"submit", h.WriteFile("n.yaml", NginxSpec(2))}).exit_code, 0);
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM attempts WHERE state = 'RUNNING'", 1,
                             absl::Seconds(60)));
  disk->Fill();
  ASSERT_TRUE(c.client.WaitForLog("outbox: cannot store messages", absl::Seconds(30)))
      << c.client.Log();
  absl::SleepFor(absl::Seconds(2));
  disk->Free();
  ASSERT_TRUE(c.client.WaitForLog("outbox: storing messages again", absl::Seconds(30)))
      << c.client.Log();
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM experiments WHERE state = 'SUCCEEDED'", 1,
                             absl::Seconds(120)))
      << c.controller.Log() << c.client.Log();
  ExpectOneResultSetPerRun(h, 2);
}

// The client's disk is already full when its first load step starts: it
// cannot even write its run directory. That step fails transient (a full
// disk may pass), its update waits in the outbox until there is space,
// and the run is retried then, not failed.
TEST(AgentKillTest, AFullAgentDiskBeforeALoadRetriesItsRun) {
  Harness h;
  Cluster c;
  std::unique_ptr<SmallDisk> disk;
  ASSERT_NO_FATAL_FAILURE(StartWithClientOnSmallDisk(h, &c, &disk));
  if (!disk) return;  // skipped
  disk->Fill();
  ASSERT_EQ(h.Cli({"submit", h.WriteFile("n.yaml", NginxSpec(2))}).exit_code, 0);
  ASSERT_TRUE(c.client.WaitForLog("No space left on device", absl::Seconds(60))) << c.client.Log();
  absl::SleepFor(absl::Seconds(2));
  disk->Free();
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM experiments WHERE state = 'SUCCEEDED'", 1,
                             absl::Seconds(120)))
      << c.controller.Log() << c.client.Log();
  ExpectOneResultSetPerRun(h, 2);
  EXPECT_GE(h.Count("SELECT COUNT(*) FROM attempts WHERE error LIKE '%No space left%'"), 1)
      << c.controller.Log();
}

// The controller's disk fills up mid-experiment: what it cannot commit
// stays in the agents' outboxes (never acked), one log line says so, and
// everything is ingested by itself when space returns.
TEST(AgentKillTest, AFullControllerDiskDelaysButLosesNothing) {
  Harness h;
  std::string mnt = h.dir() / "small";
  std::unique_ptr<SmallDisk> disk;
  SmallDisk::Mount(mnt, &disk);
  if (!disk) return;  // skipped
  h.set_db_path(mnt + "/c.db");
  Daemon controller = h.StartController({"--agent_grace=10s"});
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10))) << controller.Log();
  Daemon server = h.StartAgent("server-1", "server");
  Daemon client = h.StartAgent("client-1", "client");
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Seconds(20)));
  ASSERT_EQ(h.Cli({"submit", h.WriteFile("n.yaml", NginxSpec(2))}).exit_code, 0);
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM attempts WHERE state = 'RUNNING'", 1,
                             absl::Seconds(60)));
  disk->Fill();
  ASSERT_TRUE(controller.WaitForLog("the database cannot store", absl::Seconds(30)))
      << controller.Log();
  absl::SleepFor(absl::Seconds(2));
  disk->Free();
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM experiments WHERE state = 'SUCCEEDED'", 1,
                             absl::Seconds(150)))
      << controller.Log() << client.Log() << server.Log();
  ExpectOneResultSetPerRun(h, 2);
  // One line when it could not store, one when it could again, however
  // many messages and sessions were refused in between.
  auto count = [&](const std::string& line) {
    size_t n = 0;
    std::string log = controller.Log();
    for (size_t at = log.find(line); at != std::string::npos; at = log.find(line, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("the database cannot store"), 1u) << controller.Log();
  EXPECT_EQ(count("the database stores again"), 1u) << controller.Log();
  EXPECT_EQ(count("cannot store message"), 0u) << controller.Log();
}

// The controller's disk fails mid-experiment (the kernel remounts it
// read-only and aborts the journal, dropping what was written but not
// synced) and the controller dies with it. After e2fsck and a restart,
// every message the controller had acked is in the database: an ack
// follows the sync of its commit, so the agents never drop what is lost.
TEST(AgentKillTest, AControllerDiskForcedReadOnlyLosesNoAckedMessage) {
  Harness h;
  std::string mnt = h.dir() / "ext4";
  std::unique_ptr<BreakableDisk> disk;
  BreakableDisk::Mount(h.dir() / "ext4.img", mnt, &disk);
  if (!disk) return;  // skipped
  h.set_db_path(mnt + "/c.db");
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(h.StartCluster(&c, {"--agent_grace=60s"}));
  ASSERT_EQ(h.Cli({"submit", h.WriteFile("q.yaml", QuickSpec(3, 50000))}).exit_code, 0);
  // Mid-experiment, with results and samples flowing.
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'", 2,
                             absl::Seconds(60)))
      << c.controller.Log();
  std::string why;
  ASSERT_TRUE(disk->ForceReadOnly(&why)) << why;
  ASSERT_TRUE(c.controller.WaitForLog("the database cannot store", absl::Seconds(30)))
      << c.controller.Log();
  Kill(c.controller);
  ASSERT_TRUE(disk->Repair(&why)) << why;
  // What each agent deleted as acked is what the repaired database holds.
  for (const char* id : {"server-1", "client-1"}) {
    auto outbox = sqlite::Database::Open(agent::OutboxPath(h.dir() / ("agent-" + std::string(id))),
                                         false, true);
    ASSERT_TRUE(outbox.ok()) << outbox.status();
    int64_t acked = (*outbox)
                        ->QueryInt("SELECT COALESCE(MAX(value), 0) FROM counters "
                                   "WHERE name = 'last_acked'")
                        .value_or(-1);
    EXPECT_GT(acked, 0) << id;
    EXPECT_GE(h.Count(absl::StrCat("SELECT COALESCE(MAX(seq), 0) FROM ingested WHERE agent_id = '",
                                   id, "'")),
              acked)
        << id << ": acked messages are missing from the repaired database";
  }
  c.controller = h.StartController({"--agent_grace=60s"});
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM experiments WHERE state = 'SUCCEEDED'", 1,
                             absl::Seconds(120)))
      << c.controller.Log() << c.client.Log() << c.server.Log();
  ExpectOneResultSetPerRun(h, 6);
}

}  // namespace
}  // namespace iommuvm::testing
