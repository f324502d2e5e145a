#include "common/command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace iommuvm {
namespace {

std::string Tail(absl::string_view s, size_t max_chars) {
  s = absl::StripTrailingAsciiWhitespace(s);
  if (s.size() > max_chars) s = s.substr(s.size() - max_chars);
  return std::string(s);
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return "ended";
}

struct Spawned {
  pid_t pid = -1;
  int out_fd = -1;
  int err_fd = -1;
};

// A guardian of process group `group`: a small child of this thread, outside
// the group, that kills the whole group when this thread dies (however it
// dies: SIGKILL included) and otherwise sleeps until killed itself. The
// group leader's PR_SET_PDEATHSIG alone does not reach what it forked
// (nginx's workers, a daemon's children): those would outlive the agent
// and keep serving. Called after fork's rules: async-signal-safe only.
pid_t SpawnGroupGuardian(pid_t group, pid_t parent) {
  pid_t guardian = ::fork();
  if (guardian != 0) return guardian;  // the parent (or -1: unguarded)
  sigset_t wake;
  sigemptyset(&wake);
  sigaddset(&wake, SIGUSR1);
  ::sigprocmask(SIG_SETMASK, &wake, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGUSR1);
  if (::getppid() == parent) {
    // Hold nothing of the agent's (sockets, database files, logs).
    struct rlimit files;
    int max_fd = ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < 65536
                     ? static_cast<int>(files.rlim_cur)
                     : 65536;
    for (int fd = 0; fd < max_fd; ++fd) ::close(fd);
    siginfo_t info;
    while (::sigwaitinfo(&wake, &info) < 0) {
    }
  }
  ::kill(-group, SIGKILL);
  ::_exit(0);
}

// Forks and execs `path` with argv; the child gets its own process group and
// dies with the parent thread. With `log_path`, output goes to that file;
// otherwise to pipes returned in Spawned.
absl::StatusOr<Spawned> Spawn(const std::string& path, const CommandSpec& spec) {
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The environment is built before fork: the child may only exec.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    std::string key = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& o : spec.env) overridden |= o.substr(0, o.find('=')) == key;
    if (!overridden) env_storage.push_back(std::move(entry));
  }
  env_storage.insert(env_storage.end(), spec.env.begin(), spec.env.end());
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, exec_pipe[2];
  int log_fd = -1;
  if (!spec.log_path.empty()) {
    log_fd = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      return absl::InternalError(absl::StrCat("cannot open log ", spec.log_path, ": ",
                                              std::strerror(errno)));
    }
  } else if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Daemons block SIGTERM/SIGINT and ignore SIGPIPE; children must not
    // inherit that, or they could not be stopped.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (::getppid() != parent) ::_exit(127);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(log_fd >= 0 ? log_fd : out_pipe[1], 1);
    ::dup2(log_fd >= 0 ? log_fd : err_pipe[1], 2);
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) {
      int e = errno;
      ssize_t unused = ::write(exec_pipe[1], &e, sizeof e);
      (void)unused;
      ::_exit(127);
    }
    ::execve(path.c_str(), argv.data(), envp.data());
    int e = errno;
    ssize_t unused = ::write(exec_pipe[1], &e, sizeof e);
    (void)unused;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also in the parent, so a kill right away works
  ::close(exec_pipe[1]);
  if (log_fd >= 0) ::close(log_fd);
  if (out_pipe[1] >= 0) ::close(out_pipe[1]);
  if (err_pipe[1] >= 0) ::close(err_pipe[1]);
  int child_errno = 0;
  ssize_t n = ::read(exec_pipe[0], &child_errno, sizeof child_errno);
  ::close(exec_pipe[0]);
  if (n == sizeof child_errno) {
    ::waitpid(pid, nullptr, 0);
    if (out_pipe[0] >= 0) ::close(out_pipe[0]);
    if (err_pipe[0] >= 0) ::close(err_pipe[0]);
    return absl::FailedPreconditionError(
        absl::StrCat(spec.argv[0], ": cannot execute ", path, ": ",
                     std::strerror(child_errno)));
  }
  return Spawned{pid, out_pipe[0], err_pipe[0]};
}

void KillGroupAndReap(pid_t pid, absl::Duration grace, int* status) {
  ::kill(-pid, SIGTERM);
  absl::Time deadline = absl::Now() + grace;
  while (absl::Now() < deadline) {
    if (::waitpid(pid, status, WNOHANG) == pid) {
      ::kill(-pid, SIGKILL);  // stragglers in the group
      return;
    }
    ::usleep(10000);
  }
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, status, 0);
}

class LocalProcess final : public Process {
 public:
  LocalProcess(pid_t pid, pid_t guardian) : pid_(pid), guardian_(guardian) {}
  ~LocalProcess() override { Stop(absl::Seconds(2)); }
  pid_t pid() const override { return pid_; }
  bool Running() override {
    if (reaped_) return false;
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) Reaped();
    return !reaped_;
  }
  void Stop(absl::Duration grace) override {
    if (!Running()) return;
    KillGroupAndReap(pid_, grace, &status_);
    Reaped();
  }
  std::string ExitDescription() override {
    return Running() ? "running" : DescribeWaitStatus(status_);
  }

 private:
  // The leader is reaped (its pid and group id may be reused from now on):
  // its guardian goes too.
  void Reaped() {
    reaped_ = true;
    if (guardian_ > 0) {
      ::kill(guardian_, SIGKILL);
      ::waitpid(guardian_, nullptr, 0);
      guardian_ = -1;
    }
  }

  pid_t pid_;
  pid_t guardian_;
  int status_ = 0;
  bool reaped_ = false;
};

}  // namespace

std::string CommandResult::Describe(const std::string& tool) const {
  std::string how;
  if (timed_out) {
    how = "timed out";
  } else if (cancelled) {
    how = "cancelled";
  } else if (term_signal != 0) {
    how = absl::StrCat("killed by signal ", term_signal);
  } else {
    how = absl::StrCat("exited with status ", exit_code);
  }
  std::string detail = Tail(err.empty() ? out : err, 600);
  if (detail.empty()) return absl::StrCat(tool, " ", how);
  return absl::StrCat(tool, " ", how, ": ", detail);
}

absl::StatusOr<std::string> LocalCommandRunner::Which(const std::string& tool) const {
  if (tool.find('/') != std::string::npos) {
    if (::access(tool.c_str(), X_OK) == 0) return tool;
    return absl::NotFoundError(absl::StrCat(tool, ": not found or not executable"));
  }
  const char* env = std::getenv("PATH");
  std::string path = env ? env : "/usr/local/bin:/usr/bin:/bin";
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/", tool);
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(absl::StrCat(tool, ": command not found (PATH=", path, ")"));
}

absl::StatusOr<CommandResult> LocalCommandRunner::Run(const CommandSpec& spec) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("empty command");
  ASSIGN_OR_RETURN(std::string path, Which(spec.argv[0]));
  CommandSpec piped = spec;
  piped.log_path.clear();
  ASSIGN_OR_RETURN(Spawned child, Spawn(path, piped));

  CommandResult result;
  absl::Time deadline = spec.timeout == absl::InfiniteDuration()
                            ? absl::InfiniteFuture()
                            : absl::Now() + spec.timeout;
  pollfd fds[2] = {{child.out_fd, POLLIN, 0}, {child.err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (absl::Now() >= deadline) {
      result.timed_out = true;
      break;
    }
    if (spec.cancel != nullptr && spec.cancel->load()) {
      result.cancelled = true;
      break;
    }
    if (::poll(fds, 2, 50) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
        const auto& on_chunk = i == 0 ? spec.on_stdout : spec.on_stderr;
        if (on_chunk) on_chunk(absl::string_view(buf, static_cast<size_t>(n)));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  if (result.timed_out || result.cancelled) {
    KillGroupAndReap(child.pid, absl::Seconds(1), &status);
  } else {
    ::waitpid(child.pid, &status, 0);
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  return result;
}

absl::StatusOr<std::unique_ptr<Process>> LocalCommandRunner::Start(const CommandSpec& spec) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("empty command");
  if (spec.log_path.empty()) return absl::InvalidArgumentError("Start needs a log_path");
  ASSIGN_OR_RETURN(std::string path, Which(spec.argv[0]));
  ASSIGN_OR_RETURN(Spawned child, Spawn(path, spec));
  return std::unique_ptr<Process>(
      new LocalProcess(child.pid, SpawnGroupGuardian(child.pid, ::getpid())));
}

}  // namespace iommuvm
