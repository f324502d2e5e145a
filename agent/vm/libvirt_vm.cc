#include "agent/vm/libvirt_vm.h"

#include <signal.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/vm/console_watch.h"
#include "agent/vm/vcpu_pinning.h"

namespace iommuvm::agent {
namespace {

std::string DomainPrefix(const std::string& host_id) {
  std::string host = host_id;
  for (char& c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      c = '_';
    }
  }
  return absl::StrCat("iommuvm-", host, "-");
}

absl::StatusOr<std::string> RunVirsh(CommandRunner* runner, const std::string& uri,
                                     std::vector<std::string> args, absl::Duration timeout) {
  CommandSpec spec;
  spec.argv = {"virsh", "-q", "-c", uri};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = timeout;
  auto r = runner->Run(spec);
  if (!r.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run virsh: ", r.status().message(),
                     " (install libvirt-clients and libvirt-daemon-system for backend: libvirt)"));
  }
  if (!r->ok()) {
    std::string said(absl::StripAsciiWhitespace(r->err.empty() ? r->out : r->err));
    return absl::FailedPreconditionError(absl::StrCat("virsh ", absl::StrJoin(args, " "), ": ",
                                                      said.empty() ? r->Describe("virsh") : said));
  }
  return r->out;
}

}  // namespace

std::string DomainName(const std::string& host_id, int64_t attempt_id) {
  return absl::StrCat(DomainPrefix(host_id), attempt_id);
}

absl::StatusOr<std::string> LibvirtVm::Virsh(std::vector<std::string> args,
                                             absl::Duration timeout) {
  return RunVirsh(runner_, uri_, std::move(args), timeout);
}

absl::Status LibvirtVm::Start(const std::string& name, const std::string& xml,
                              const std::string& console_path, const std::string& run_dir) {
  Stop();
  console_path_ = console_path;
  absl::Status s = files_->WriteFile(console_path_, "");
  if (!s.ok()) return s;
  std::string xml_path = run_dir + "/domain.xml";
  if (s = files_->WriteFile(xml_path, xml); !s.ok()) return s;
  // A domain of this name from an earlier life of the same attempt.
  (void)Virsh({"destroy", name}, absl::Seconds(30));
  (void)Virsh({"undefine", name}, absl::Seconds(30));
  auto defined = Virsh({"define", xml_path});
  if (!defined.ok()) return defined.status();
  name_ = name;
  auto started = Virsh({"start", name});
  if (!started.ok()) {
    Stop();
    return started.status();
  }
  // QEMU's pid, to watch it and read its command line: the process of its
  // vCPU threads, which QEMU itself names over QMP. (A name on the command
  // line is not enough: another libvirtd may run a domain of the same name.)
  auto reply = Virsh({"qemu-monitor-command", name, R"({"execute":"query-cpus-fast"})"});
  auto threads = reply.ok() ? ParseVcpuThreads(*reply) : reply.status();
  if (threads.ok() && !threads->empty()) {
    std::string status =
        files_->ReadFile(absl::StrCat("/proc/", threads->begin()->second, "/status")).value_or("");
    for (absl::string_view line : absl::StrSplit(status, '\n')) {
      if (absl::ConsumePrefix(&line, "Tgid:")) {
        (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &pid_);
      }
    }
  }
  if (pid_ > 0) {
    std::string cmdline = files_->ReadFile(absl::StrCat("/proc/", pid_, "/cmdline")).value_or("");
    argv_ = absl::StrSplit(cmdline, '\0', absl::SkipEmpty());
  }
  if (pid_ == 0) {
    Stop();
    return absl::FailedPreconditionError(absl::StrCat(
        "libvirt started domain ", name, " but its QEMU could not be found (QMP query-cpus-fast: ",
        threads.ok() ? "no vCPU threads" : std::string(threads.status().message()), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LibvirtVm::HypervisorVersion() {
  return LibvirtHypervisor(runner_, uri_);
}

absl::StatusOr<std::string> LibvirtHypervisor(CommandRunner* runner, const std::string& uri) {
  auto out = RunVirsh(runner, uri, {"version"}, absl::Seconds(10));
  if (!out.ok()) return out.status();
  for (absl::string_view line : absl::StrSplit(*out, '\n')) {
    if (absl::ConsumePrefix(&line, "Running hypervisor:")) {
      return std::string(absl::StripAsciiWhitespace(line));
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat("virsh version names no running hypervisor: ", *out));
}

absl::StatusOr<std::string> LibvirtVm::Pin(int vcpus, const std::vector<int>& cpus) {
  if (cpus.empty()) return absl::InvalidArgumentError("no host CPUs to pin the vCPUs to");
  std::vector<std::string> done;
  for (int v = 0; v < vcpus; ++v) {
    int cpu = cpus[v % cpus.size()];
    auto pinned = Virsh({"vcpupin", name_, absl::StrCat(v), absl::StrCat(cpu), "--live"});
    if (!pinned.ok()) return pinned.status();
    done.push_back(absl::StrCat("vcpu", v, "=cpu", cpu));
  }
  return absl::StrJoin(done, ",");
}

absl::StatusOr<std::string> LibvirtVm::WaitForConsole(absl::string_view marker,
                                                      absl::Duration timeout) {
  ConsoleWatch watch{files_,
                     clock_,
                     console_path_,
                     absl::StrCat("/var/log/libvirt/qemu/", name_, ".log"),
                     [this] { return Running(); },
                     [this] {
                       return name_.empty() ? std::string("not started")
                                            : absl::StrCat("of domain ", name_, " ended");
                     }};
  return WaitForConsoleLine(watch, marker, timeout);
}

std::string LibvirtVm::Console() const {
  return console_path_.empty() ? "" : files_->ReadFile(console_path_).value_or("");
}

bool LibvirtVm::Running() { return !name_.empty() && pid_ > 0 && ::kill(pid_, 0) == 0; }

void LibvirtVm::Stop() {
  if (name_.empty()) return;
  (void)Virsh({"destroy", name_}, absl::Seconds(30));
  if (!Virsh({"undefine", name_}, absl::Seconds(30)).ok()) {
    (void)Virsh({"undefine", "--nvram", name_}, absl::Seconds(30));
  }
  name_.clear();
  pid_ = 0;
}

std::vector<std::string> RemoveLeftoverDomains(CommandRunner* runner, const std::string& host_id,
                                               const std::string& uri) {
  std::vector<std::string> removed;
  if (!runner->Which("virsh").ok()) return removed;
  auto listed = RunVirsh(runner, uri, {"list", "--all", "--name"}, absl::Seconds(10));
  if (!listed.ok()) return removed;
  std::string prefix = DomainPrefix(host_id);
  for (absl::string_view line : absl::StrSplit(*listed, '\n', absl::SkipEmpty())) {
    std::string name(absl::StripAsciiWhitespace(line));
    absl::string_view rest = name;
    int64_t attempt = 0;
    if (!absl::ConsumePrefix(&rest, prefix) || !absl::SimpleAtoi(rest, &attempt)) continue;
    (void)RunVirsh(runner, uri, {"destroy", name}, absl::Seconds(30));
    if (RunVirsh(runner, uri, {"undefine", name}, absl::Seconds(30)).ok()) {
      removed.push_back(name);
    }
  }
  return removed;
}

}  // namespace iommuvm::agent
