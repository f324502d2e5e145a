// Bad input and faults, each against the real binaries.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/sqlite.h"
#include "tests/support/process_harness.h"

namespace iommuvm::testing {
namespace {

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WaitForExit(Process* p, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (!p->Running()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

void StartReadyController(Harness& h, Daemon* controller) {
  *controller = h.StartController({"--agent_grace=5s"});
  ASSERT_TRUE(controller->WaitForLog("listening on", absl::Seconds(10))) << controller->Log();
}

TEST(FaultsTest, UnparseableSpecIsRejectedWithPositionAndWritesNothing) {
  Harness h;
  Daemon controller;
  StartReadyController(h, &controller);
  std::string bad = h.WriteFile("bad.yaml", "name: t\nmatrix:\n  workload: [w\nworkloads: {}\n");
  CommandResult r = h.Cli({"submit", bad});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bad + ":4:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("YAML syntax error"), std::string::npos) << r.err;
  std::string invalid = h.WriteFile("invalid.yaml", QuickSpec(1) + "\nretires: 2\n");
  r = h.Cli({"submit", invalid});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("retires: unknown key 'retires'; did you mean 'retries'?"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM experiments"), 0);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs"), 0);
  r = h.Cli({"validate", invalid});
  EXPECT_EQ(r.exit_code, 1);
  r = h.Cli({"submit"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST(FaultsTest, ControllerRefusesAnUnwritableDatabase) {
  Harness h;
  Daemon c = h.StartController({"--db", h.dir() / "no/such/dir/x.db"});
  ASSERT_TRUE(WaitForExit(c.process.get(), absl::Seconds(10)));
  EXPECT_EQ(c.process->ExitDescription(), "exited with status 1");
  std::string log = c.Log();
  EXPECT_NE(log.find("refusing to start: cannot open database"), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_FALSE(std::filesystem::exists(h.dir() / "no"));
}

TEST(FaultsTest, ControllerRefusesANewerSchemaAndTouchesNothing) {
  Harness h;
  {
    auto db = sqlite::Database::Open(h.db_path());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 42").ok());
  }
  std::string before = FileBytes(h.db_path());
  Daemon c = h.StartController();
  ASSERT_TRUE(WaitForExit(c.process.get(), absl::Seconds(10)));
  EXPECT_EQ(c.process->ExitDescription(), "exited with status 1");
  EXPECT_NE(c.Log().find("schema version 42"), std::string::npos) << c.Log();
  EXPECT_EQ(FileBytes(h.db_path()), before);
  EXPECT_FALSE(std::filesystem::exists(h.db_path() + "-wal"));
}

TEST(FaultsTest, AgentRetriesAnUnreachableControllerForever) {
  Harness h;  // nothing listens on h.port()
  Daemon agent = h.StartAgent("lonely", "server");
  ASSERT_TRUE(agent.WaitForLog("(attempt 4)", absl::Seconds(20))) << agent.Log();
  EXPECT_TRUE(agent.process->Running());
  std::string log = agent.Log();
  for (int i = 1; i <= 4; ++i) {
    std::string line = absl::StrCat("cannot reach controller ", h.address(), " (attempt ", i, ")");
    EXPECT_NE(log.find(line), std::string::npos) << log;
  }
  EXPECT_NE(log.find("Connection refused"), std::string::npos) << log;
  // Once the controller appears, the agent connects without a restart.
  Daemon controller = h.StartController();
  EXPECT_TRUE(agent.WaitForLog("connected to controller", absl::Seconds(20))) << agent.Log();
}

// A node that registered without a tool the spec needs: refused at submit,
// naming the node and the tool, and nothing is stored.
TEST(FaultsTest, SpecNeedingAToolANodeLacksIsRefusedAtSubmit) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(h.StartCluster(&c, {}, {"PATH=/nonexistent"}));
  CommandResult r = h.Cli({"submit", h.WriteFile("q.yaml", QuickSpec(1)), "--wait"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("workloads.redis-get.app: node 'server-1' (server) does not have "
                       "redis-server"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM experiments"), 0);
}

// Submitted before any agent registered, so nothing could be checked: the
// missing server program fails each attempt with the tool's own message.
TEST(FaultsTest, MissingRedisServerFailsEachAttemptWithTheToolsMessage) {
  Harness h;
  Daemon controller = h.StartController();
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10))) << controller.Log();
  CommandResult submit = h.Cli({"submit", h.WriteFile("q.yaml", QuickSpec(1))});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  Daemon server = h.StartAgent("server-1", "server", {"PATH=/nonexistent"});
  Daemon client = h.StartAgent("client-1", "client");
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM experiments WHERE state = 'FAILED'", 1,
                             absl::Seconds(60)))
      << server.Log();
  // Both runs were attempted (the first failure did not block the next).
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'FAILED' AND error LIKE "
                    "'server-1: redis-server: command not found%'"),
            2);
}

TEST(FaultsTest, MissingRedisBenchmarkFailsAndTheServerIsStopped) {
  Harness h;
  Daemon controller = h.StartController();
  ASSERT_TRUE(controller.WaitForLog("listening on", absl::Seconds(10))) << controller.Log();
  CommandResult submit = h.Cli({"submit", h.WriteFile("q.yaml", QuickSpec(1))});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  Daemon server = h.StartAgent("server-1", "server");
  Daemon client = h.StartAgent("client-1", "client", {"PATH=/nonexistent"});
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM experiments WHERE state = 'FAILED'", 1,
                             absl::Seconds(60)))
      << server.Log();
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'FAILED' AND error LIKE "
                    "'client-1: redis-benchmark: command not found%'"),
            2)
      << h.Cli({"status", "1"}).out;
  // The cleanup step stops each attempt's redis-server and removes its directory.
  EXPECT_TRUE(server.WaitForLog("server of attempt 2 stopped", absl::Seconds(10)))
      << server.Log();
  CommandSpec pgrep;
  pgrep.argv = {"pgrep", "-P", std::to_string(server.process->pid())};
  LocalCommandRunner runner;
  EXPECT_EQ(runner.Run(pgrep)->exit_code, 1) << "a redis-server is still running";
  EXPECT_FALSE(std::filesystem::exists(h.dir() / "agent-server-1/runs/a1"));
}

TEST(FaultsTest, RedisServerThatCannotStartFailsWithItsOwnWords) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(h.StartCluster(&c));
  // The controller's own port is taken, so redis-server exits at once and
  // says why.
  std::string spec = absl::StrReplaceAll(
      QuickSpec(1), {{"io_threads: 1", absl::StrCat("port: ", h.port(), "\n      io_threads: 1")}});
  CommandResult r = h.Cli({"submit", h.WriteFile("q.yaml", spec), "--wait"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'FAILED' AND error LIKE "
                    "'%redis-server exited with status 1%Address already in use%'"),
            2)
      << r.out << r.err;
  // The cleanup brought the server's log along.
  EXPECT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM artifacts WHERE name = 'redis-server.log' "
                             "AND content LIKE '%Address already in use%'",
                             2, absl::Seconds(10)));
}

TEST(FaultsTest, SigtermExitsCleanly) {
  Harness h;
  Daemon controller;
  StartReadyController(h, &controller);
  ::kill(controller.process->pid(), SIGTERM);
  ASSERT_TRUE(WaitForExit(controller.process.get(), absl::Seconds(10)));
  EXPECT_EQ(controller.process->ExitDescription(), "exited with status 0");
  EXPECT_NE(controller.Log().find("shutting down"), std::string::npos);
}

TEST(FaultsTest, SigkillMidExperimentResumesWithoutDuplicates) {
  Harness h;
  Cluster c;
  ASSERT_NO_FATAL_FAILURE(h.StartCluster(&c, {"--agent_grace=5s"}));
  Daemon& controller = c.controller;
  CommandResult submit = h.Cli({"submit", h.WriteFile("q.yaml", QuickSpec(3, 100000))});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'", 2,
                             absl::Seconds(60)));
  ::kill(controller.process->pid(), SIGKILL);
  ASSERT_TRUE(WaitForExit(controller.process.get(), absl::Seconds(5)));
  controller = h.StartController({"--agent_grace=5s"});
  ASSERT_TRUE(h.WaitForCount("SELECT COUNT(*) FROM experiments WHERE state = 'SUCCEEDED'", 1,
                             absl::Seconds(120)))
      << controller.Log();
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM runs WHERE state = 'SUCCEEDED'"), 6);
  // One result per run, and every reported sample stored exactly once.
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM run_results"), 6);
  EXPECT_EQ(h.Count("SELECT COUNT(DISTINCT run_id) FROM run_results"), 6);
  EXPECT_EQ(h.Count("SELECT COUNT(*) FROM attempts a WHERE a.state = 'SUCCEEDED' AND "
                    "a.samples_reported != (SELECT COUNT(*) FROM metric_samples m "
                    "WHERE m.attempt_id = a.id)"),
            0);
}

}  // namespace
}  // namespace iommuvm::testing
