#include "tests/support/process_harness.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "agent/workload/tcp_probe.h"
#include "controller/controller.h"
#include "tls/certificate_authority.h"

namespace iommuvm::testing {

ScratchDir::ScratchDir() {
  char tmpl[] = "/tmp/iommuvm-test-XXXXXX";
  path_ = ::mkdtemp(tmpl);
}

ScratchDir::~ScratchDir() { std::filesystem::remove_all(path_); }

std::string Daemon::Log() const {
  std::ifstream in(log_path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Daemon::WaitForLog(const std::string& text, absl::Duration timeout) const {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (Log().find(text) != std::string::npos) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

Harness::Harness(std::string host)
    : host_(std::move(host)),
      port_(static_cast<int>(*agent::PickFreePort(host_))),
      db_path_(dir_ / "controller.db") {}

std::string Harness::address() const { return absl::StrCat(host_, ":", port_); }

void Harness::UseTls() {
  tls_dir_ = dir_ / "ca";
  absl::Status s = tls::InitAuthority(tls_dir_, {.controller_hosts = {host_}});
  if (s.ok()) s = tls::IssueCertificate(tls_dir_, tls::PeerKind::kUser, "tester").status();
  ASSERT_TRUE(s.ok()) << s;
}

Daemon Harness::StartController(std::vector<std::string> extra_args) {
  CommandSpec spec;
  spec.argv = {IOMMUVM_CONTROLLER_BIN, "--listen", address(), "--db", db_path(), "--metrics="};
  if (!tls_dir_.empty()) {
    spec.argv.insert(spec.argv.end(), {"--tls_dir", tls_dir_});
  } else if (!IsLoopbackAddress(address())) {
    spec.argv.push_back("--insecure");
  }
  spec.argv.insert(spec.argv.end(), extra_args.begin(), extra_args.end());
  Daemon d;
  d.log_path = dir_ / "controller.log";
  spec.log_path = d.log_path;
  d.process = *runner_.Start(spec);
  return d;
}

Daemon Harness::StartAgent(const std::string& id, const std::string& roles,
                           std::vector<std::string> env, std::vector<std::string> extra_args,
                           std::vector<std::string> wrapper) {
  CommandSpec spec;
  spec.argv = std::move(wrapper);
  spec.argv.insert(spec.argv.end(),
                   {IOMMUVM_AGENT_BIN, "--controller", address(), "--id", id, "--roles", roles,
                    "--state_dir", dir_ / ("agent-" + id)});
  if (!tls_dir_.empty()) {
    auto issued = tls::IssueCertificate(tls_dir_, tls::PeerKind::kAgent, id);
    EXPECT_TRUE(issued.ok()) << issued.status();
    spec.argv.insert(spec.argv.end(), {"--tls_dir", tls_dir_});
  }
  spec.argv.insert(spec.argv.end(), extra_args.begin(), extra_args.end());
  spec.env = std::move(env);
  Daemon d;
  d.log_path = dir_ / ("agent-" + id + ".log");
  spec.log_path = d.log_path;
  d.process = *runner_.Start(spec);
  return d;
}

void Harness::StartCluster(Cluster* c, std::vector<std::string> controller_args,
                           std::vector<std::string> server_env,
                           std::vector<std::string> client_env) {
  c->controller = StartController(std::move(controller_args));
  ASSERT_TRUE(c->controller.WaitForLog("listening on", absl::Seconds(10))) << c->controller.Log();
  c->server = StartAgent("server-1", "server", std::move(server_env));
  c->client = StartAgent("client-1", "client", std::move(client_env));
  ASSERT_TRUE(WaitForCount("SELECT COUNT(*) FROM nodes", 2, absl::Seconds(10)))
      << c->server.Log() << c->client.Log();
}

CommandResult Harness::Cli(std::vector<std::string> args, absl::Duration timeout) {
  CommandSpec spec;
  spec.argv = {IOMMUVM_CLI_BIN};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.argv.insert(spec.argv.end(), {"--controller", address()});
  if (!tls_dir_.empty())
    spec.argv.insert(spec.argv.end(), {"--tls_dir", tls_dir_, "--tls_user", "tester"});
  spec.timeout = timeout;
  return *runner_.Run(spec);
}

std::string Harness::WriteFile(const std::string& name, const std::string& text) const {
  std::string path = dir_ / name;
  std::ofstream(path) << text;
  return path;
}

std::string Harness::Events() const {
  return Exec({"sqlite3", "-cmd", ".timeout 5000", db_path_,
               "SELECT attempt_id, agent_id, kind, message FROM events"})
      .out;
}

std::string Harness::SwitchTimes() const {
  CommandResult times =
      Exec({"sqlite3", "-cmd", ".timeout 5000", db_path_,
            "SELECT s.message || ': ' || ((v.ts_ms - s.ts_ms) / 1000.0) || ' s' FROM events s "
            "JOIN events v ON v.attempt_id = s.attempt_id AND v.kind = 'verified' WHERE "
            "s.kind = 'switching' ORDER BY s.ts_ms"});
  return times.out + times.err;
}

int64_t Harness::Count(const std::string& sql) const {
  auto db = sqlite::Database::Open(db_path(), /*create=*/false, /*read_only=*/true);
  if (!db.ok()) return -1;
  auto v = (*db)->QueryInt(sql);
  return v.ok() ? *v : -1;
}

bool Harness::WaitForCount(const std::string& sql, int64_t want, absl::Duration timeout) const {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (Count(sql) == want) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

CommandResult Exec(std::vector<std::string> argv) {
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = absl::Minutes(3);
  return LocalCommandRunner().Run(spec).value_or(CommandResult{});
}

CommandResult MakeBundle(const std::string& out) {
  std::string build = std::filesystem::path(IOMMUVM_AGENT_BIN).parent_path().parent_path();
  return Exec({IOMMUVM_SOURCE_DIR "/scripts/bundle", "--build", build, "--out", out});
}

std::string SourceFile(const std::string& path) {
  std::ifstream in(std::string(IOMMUVM_SOURCE_DIR) + "/" + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RedisGetPairSpec(const std::string& name, const std::string& matrix,
                             const std::string& server, const std::string& rest) {
  return absl::StrCat("name: ", name, "\nmatrix:\n", matrix, R"(  workload: [get]
workloads:
  get:
    app: redis
    generator: {tests: [get], clients: 4, requests: 20000}
nodes:
  pairs: [{server: )",
                      server, ", client: client}]\n", rest);
}

std::string QuickSpec(int repetitions, uint64_t requests) {
  return absl::StrReplaceAll(
      SourceFile("experiments/quickstart.yaml"),
      {{"repetitions: 3", absl::StrCat("repetitions: ", repetitions)},
       {"requests: 100000", absl::StrCat("requests: ", requests)},
       {"workload: [redis-get, redis-set, memcached, nginx]", "workload: [redis-get, redis-set]"}});
}

}  // namespace iommuvm::testing
