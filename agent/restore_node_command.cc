#include "agent/restore_node_command.h"

#include "agent/node/node_restore.h"
#include "common/args.h"
#include "common/command_runner.h"
#include "common/file_system.h"

namespace iommuvm::agent {
namespace {

constexpr char kUsage[] =
    "usage: iommuvm-agent restore-node [--state_dir DIR] [--sysroot DIR]\n"
    "Undoes what iommuvm-agent wrote to this node: removes its grub drop-in and one-shot\n"
    "entry and runs update-grub (the node boots its original command line again), unloads a\n"
    "staged kexec kernel, gives devices left on vfio-pci back to their drivers and disables\n"
    "VFs enabled for guests. Stop the agent first. --sysroot: a root other than the running\n"
    "system's (files only; boot tools are not run for it).\n";

}  // namespace

int RunRestoreNode(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  auto args = ParseArgs(argv, {"state_dir", "sysroot"}, {"help"});
  if (!args.ok() || !args->positional.empty()) {
    err << "restore-node: " << (args.ok() ? "unexpected argument" : args.status().message()) << "\n"
        << kUsage;
    return 2;
  }
  if (args->Has("help")) {
    out << kUsage;
    return 0;
  }
  std::string root = args->Get("sysroot", "/");
  LocalFileSystem sysroot(root);
  LocalFileSystem host("/");
  LocalCommandRunner runner;
  RestoreOptions options;
  options.state_dir = args->Get("state_dir", options.state_dir);
  options.run_boot_tools = root == "/";
  auto done = RestoreNode(&sysroot, &host, &runner, options);
  if (!done.ok()) {
    err << "restore-node: " << done.status().message() << "\n";
    return 1;
  }
  if (done->empty()) out << "nothing of iommuvm's to undo\n";
  for (const std::string& line : *done) out << line << "\n";
  return 0;
}

}  // namespace iommuvm::agent
