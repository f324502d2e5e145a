#pragma once
// Starts the real iommuvm binaries as processes for integration tests, in a
// scratch directory removed afterwards, and reads back what they logged.

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/command_runner.h"
#include "common/sqlite.h"

namespace iommuvm::testing {

class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct Daemon {
  std::unique_ptr<Process> process;
  std::string log_path;
  std::string Log() const;
  // Polls the log until it contains `text`; false after `timeout`.
  bool WaitForLog(const std::string& text, absl::Duration timeout) const;
};

// A controller with one server agent and one client agent, all registered.
struct Cluster {
  Daemon controller;
  Daemon server;
  Daemon client;
};

class Harness {
 public:
  // The controller listens on `host` (an address of this machine).
  explicit Harness(std::string host = "127.0.0.1");
  const ScratchDir& dir() const { return dir_; }
  int port() const { return port_; }
  std::string address() const;
  // The controller's database (in the scratch dir unless set, e.g. to a
  // file system a test fills or breaks); Count and StartController use it.
  const std::string& db_path() const { return db_path_; }
  void set_db_path(std::string path) { db_path_ = std::move(path); }

  // Mutual TLS from here on: a CA in the scratch dir whose controller
  // certificate names this harness's host, a certificate issued to each
  // agent as it starts and to the CLI's user "tester". Without it a
  // controller on a non-loopback host is started --insecure.
  void UseTls();
  // The CA directory ("" before UseTls).
  const std::string& tls_dir() const { return tls_dir_; }

  Daemon StartController(std::vector<std::string> extra_args = {});
  // `wrapper` runs before the agent's own argv (e.g. "ip netns exec sut").
  Daemon StartAgent(const std::string& id, const std::string& roles,
                    std::vector<std::string> env = {}, std::vector<std::string> extra_args = {},
                    std::vector<std::string> wrapper = {});
  // Starts a controller and agents "server-1" (server) and "client-1"
  // (client, with `client_env`) and waits until both have registered.
  // Fails the current test (check with ASSERT_NO_FATAL_FAILURE) otherwise.
  void StartCluster(Cluster* cluster, std::vector<std::string> controller_args = {},
                    std::vector<std::string> server_env = {},
                    std::vector<std::string> client_env = {});
  // Runs the iommuvm CLI against this harness's controller.
  CommandResult Cli(std::vector<std::string> args, absl::Duration timeout = absl::Minutes(3));
  // Writes `text` to a file in the scratch dir and returns its path.
  std::string WriteFile(const std::string& name, const std::string& text) const;
  // Opens the controller's database read-only and returns a count query.
  int64_t Count(const std::string& sql) const;
  // Every event in the database, a line each (for failure messages).
  std::string Events() const;
  // Each switch's time, from the controller's request to the new mode
  // verified, as "<from> -> <to>: <seconds> s" lines.
  std::string SwitchTimes() const;
  // Polls `sql` until it returns `want`; false after `timeout`.
  bool WaitForCount(const std::string& sql, int64_t want, absl::Duration timeout) const;

 private:
  ScratchDir dir_;
  LocalCommandRunner runner_;
  std::string host_;
  int port_;
  std::string db_path_;
  std::string tls_dir_;
};

// Runs a command to completion (3 minutes at most); a result with exit
// code -1 when it cannot start.
CommandResult Exec(std::vector<std::string> argv);

// Packs this build with scripts/bundle into `out`; the bundle script's
// result (exit code 0 when it worked).
CommandResult MakeBundle(const std::string& out);

// A file of the project's source tree ("experiments/quickstart.yaml"); ""
// when it cannot be read.
std::string SourceFile(const std::string& path);

// The quickstart spec's Redis workloads with fewer requests, so a run takes
// about a second.
std::string QuickSpec(int repetitions, uint64_t requests = 20000);
// Redis GET runs on one pair, `server` against the agent "client": the
// spec's `name`, `matrix` (the other axes, as indented lines) and `rest`
// (top-level keys: switch, order, timeouts...).
std::string RedisGetPairSpec(const std::string& name, const std::string& matrix,
                             const std::string& server, const std::string& rest);

}  // namespace iommuvm::testing
