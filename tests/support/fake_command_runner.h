#pragma once
// A CommandRunner that records what would have run and answers with
// canned results; for testing logic that drives system tools (update-grub,
// kexec, reboot) without running them.

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/command_runner.h"

namespace iommuvm::testing {

class FakeCommandRunner final : public CommandRunner {
 public:
  // Programs Which() finds; all others are "not installed".
  std::set<std::string> installed;
  // Result per whole command line (argv joined with spaces), else per
  // program name (default: exit 0, no output).
  std::map<std::string, CommandResult> results_by_command;
  std::map<std::string, CommandResult> results;
  // Sets the output of one exact command line.
  void Answer(const std::string& command, const std::string& out) {
    results_by_command[command].exit_code = 0;
    results_by_command[command].out = out;
  }
  // Every Run, as its argv joined with spaces.
  std::vector<std::string> ran;
  // Called on every Run of an installed program before it answers: plays
  // the program's side effects (files it writes, progress it streams).
  std::function<void(const CommandSpec&)> on_run;

  absl::StatusOr<CommandResult> Run(const CommandSpec& spec) override {
    ran.push_back(absl::StrJoin(spec.argv, " "));
    if (!installed.count(spec.argv[0])) return absl::NotFoundError(spec.argv[0] + ": not found");
    if (on_run) on_run(spec);
    auto exact = results_by_command.find(ran.back());
    if (exact != results_by_command.end()) return exact->second;
    auto it = results.find(spec.argv[0]);
    if (it != results.end()) return it->second;
    CommandResult ok;
    ok.exit_code = 0;
    return ok;
  }
  // Records the command line (in `ran`) and refuses to start it.
  absl::StatusOr<std::unique_ptr<Process>> Start(const CommandSpec& spec) override {
    ran.push_back(absl::StrJoin(spec.argv, " "));
    return absl::UnimplementedError("FakeCommandRunner cannot start " + spec.argv[0]);
  }
  absl::StatusOr<std::string> Which(const std::string& tool) const override {
    if (installed.count(tool)) return "/usr/sbin/" + tool;
    return absl::NotFoundError(tool + " not in PATH");
  }
};

}  // namespace iommuvm::testing
