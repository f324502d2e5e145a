#include "common/command_runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace iommuvm {
namespace {

// Whether `pid` is alive (a zombie waiting for its reaper counts as dead).
bool Alive(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

// A process that starts a daemon-like group (a shell that forks a sleeper
// and waits) and is then killed with SIGKILL, as an agent can be: the
// sleeper, a grandchild no PR_SET_PDEATHSIG covers, dies too.
TEST(CommandRunnerTest, WhatAStartedProgramForkedDiesWithItsStarter) {
  std::string pid_file = ::testing::TempDir() + "/sleeper." + std::to_string(::getpid());
  ::unlink(pid_file.c_str());
  pid_t starter = ::fork();
  ASSERT_GE(starter, 0);
  if (starter == 0) {
    LocalCommandRunner runner;
    CommandSpec spec;
    spec.argv = {"sh", "-c", absl::StrCat("sleep 300 & echo $! > ", pid_file, "; wait")};
    spec.log_path = "/dev/null";
    auto p = runner.Start(spec);
    if (!p.ok()) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  pid_t sleeper = 0;
  for (int i = 0; i < 100 && sleeper == 0; ++i) {
    std::ifstream in(pid_file);
    if (!(in >> sleeper)) sleeper = 0;
    if (sleeper == 0) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GT(sleeper, 0) << "the started shell never wrote its sleeper's pid";
  ASSERT_TRUE(Alive(sleeper));
  ::kill(starter, SIGKILL);
  ::waitpid(starter, nullptr, 0);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = !Alive(sleeper);
    if (!gone) absl::SleepFor(absl::Milliseconds(20));
  }
  if (!gone) ::kill(sleeper, SIGKILL);
  EXPECT_TRUE(gone) << "sleep " << sleeper << " outlived the process that started its group";
  ::unlink(pid_file.c_str());
}

// A stopped process takes its guardian with it: nothing is left behind.
TEST(CommandRunnerTest, StoppingAProcessLeavesNoGuardian) {
  LocalCommandRunner runner;
  CommandSpec spec;
  spec.argv = {"sleep", "300"};
  spec.log_path = "/dev/null";
  auto p = runner.Start(spec);
  ASSERT_TRUE(p.ok()) << p.status();
  (*p)->Stop(absl::Seconds(1));
  EXPECT_FALSE((*p)->Running());
  // No child of this process is left (waitpid would reap it).
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace iommuvm
