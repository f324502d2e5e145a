#include "tests/support/private_libvirtd.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace iommuvm::testing {
namespace {

// Libvirt's state directories, each replaced by one under the test's dir.
const std::vector<std::pair<std::string, std::string>> kMounts = {{"etc", "/etc/libvirt"},
                                                                  {"run", "/run/libvirt"},
                                                                  {"lib", "/var/lib/libvirt"},
                                                                  {"log", "/var/log/libvirt"},
                                                                  {"cache", "/var/cache/libvirt"}};

}  // namespace

PrivateLibvirtd::PrivateLibvirtd(const std::string& dir, const std::vector<std::string>& in_netns)
    : dir_(dir) {
  LocalCommandRunner runner;
  if (!runner.Which("libvirtd").ok() || !std::filesystem::exists("/etc/libvirt/qemu.conf")) {
    status_ = absl::FailedPreconditionError(
        "libvirtd is not installed (libvirt-daemon-system; scripts/setup installs it)");
    return;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& [sub, path] : kMounts) {
    fs::create_directories(dir_ + "/" + sub, ec);
    fs::create_directories(path, ec);  // the mount point, if libvirt never ran here
  }
  fs::copy("/etc/libvirt", dir_ + "/etc",
           fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
  if (ec) {
    status_ = absl::InternalError(absl::StrCat("copying /etc/libvirt: ", ec.message()));
    return;
  }
  // QEMU as root and unconfined, its console written by QEMU itself (no
  // virtlogd), no host devices relabelled.
  std::ofstream(dir_ + "/etc/qemu.conf", std::ios::app)
      << "\nuser = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\nremember_owner = 0\n"
         "security_driver = \"none\"\nstdio_handler = \"file\"\n";
  std::string script = "mount --make-rprivate / &&";
  for (const auto& [sub, path] : kMounts) {
    absl::StrAppend(&script, " mount --bind ", dir_, "/", sub, " ", path, " &&");
  }
  absl::StrAppend(&script, " exec libvirtd --pid-file ", dir_, "/libvirtd.pid");
  CommandSpec spec;
  spec.argv = in_netns;
  spec.argv.insert(spec.argv.end(), {"unshare", "-m", "sh", "-c", script});
  spec.log_path = dir_ + "/libvirtd.log";
  auto started = runner.Start(spec);
  if (!started.ok()) {
    status_ = started.status();
    return;
  }
  daemon_ = std::move(*started);
  for (int i = 0; i < 100; ++i) {
    if (Virsh({"version"}).find("Running hypervisor") != std::string::npos) return;
    if (!daemon_->Running()) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  status_ = absl::InternalError(absl::StrCat("libvirtd did not come up: ", Log()));
}

PrivateLibvirtd::~PrivateLibvirtd() {
  if (daemon_ == nullptr) return;
  // libvirt keeps guests running without it: end them first.
  for (absl::string_view name :
       absl::StrSplit(Virsh({"list", "--name"}), '\n', absl::SkipEmpty())) {
    Virsh({"destroy", std::string(name)});
  }
  daemon_->Stop(absl::Seconds(5));
}

std::string PrivateLibvirtd::uri() const {
  return absl::StrCat("qemu+unix:///system?socket=", dir_, "/run/libvirt-sock");
}

std::string PrivateLibvirtd::Virsh(const std::vector<std::string>& args) const {
  LocalCommandRunner runner;
  CommandSpec spec;
  spec.argv = {"virsh", "-q", "-c", uri()};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = absl::Seconds(30);
  auto r = runner.Run(spec);
  return r.ok() && r->ok() ? r->out : "";
}

std::string PrivateLibvirtd::Log() const {
  std::ifstream in(dir_ + "/libvirtd.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace iommuvm::testing
