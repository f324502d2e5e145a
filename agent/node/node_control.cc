#include "agent/node/node_control.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/node/inventory.h"
#include "agent/node/iommu_probe.h"
#include "agent/node/kernel_log.h"
#include "agent/paths.h"
#include "common/log.h"
#include "iommu/cmdline.h"

namespace iommuvm::agent {
namespace {

constexpr char kLog[] = "agent";

// key=value lines (values without newlines).
std::string Encode(const Evidence& e) {
  std::string out;
  for (const auto& [k, v] : e) absl::StrAppend(&out, k, "=", v, "\n");
  return out;
}

Evidence Decode(absl::string_view text) {
  Evidence e;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    size_t eq = line.find('=');
    if (eq != absl::string_view::npos) e[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  return e;
}

}  // namespace

NodeControl::NodeControl(FileSystem* sysroot, FileSystem* host, CommandRunner* runner,
                         NodeControlConfig config)
    : sysroot_(sysroot), host_(host), runner_(runner), config_(std::move(config)) {}

void NodeControl::Switched(const std::string& method, const std::string& boot_id_before,
                           Probed probed, v1::SwitchOutcome* outcome, Evidence* evidence) {
  outcome->set_method(method);
  outcome->set_boot_id_before(boot_id_before);
  *outcome->mutable_probe() = std::move(probed.report);
  *evidence = std::move(probed.evidence);
  (*evidence)["method"] = method;
  (*evidence)["boot_id_before"] = boot_id_before;
}

std::string NodeControl::PendingPath() const { return PendingSwitchPath(config_.state_dir); }

std::string NodeControl::StockKernelRelease() {
  std::string path = config_.state_dir + "/stock_kernel";
  if (auto recorded = host_->ReadFile(path); recorded.ok()) {
    return std::string(absl::StripAsciiWhitespace(*recorded));
  }
  std::string running = KernelRelease(*sysroot_);
  if (!running.empty()) {
    absl::Status s = host_->WriteFile(path, running + "\n");
    if (!s.ok()) Log(kLog, "cannot record the stock kernel: ", s.message());
  }
  return running;
}

NodeControl::Probed NodeControl::Probe(v1::IommuMode expected,
                                       const std::string& expected_release) {
  auto log = ReadKernelLogOf(*sysroot_, runner_);
  IommuProbe p = ProbeIommu(*sysroot_, log.ok() ? *log : "", log.ok(), config_.data_nic);
  Probed out;
  v1::ProbeReport& r = out.report;
  r.set_boot_id(BootId(*sysroot_));
  r.set_requested(ModeName(p.requested));
  r.set_detected(p.detected);
  r.set_data_nic(p.data_nic.name);
  r.set_data_group(p.data_group);
  r.set_data_group_type(p.data_group_type);
  r.set_data_mode(p.data_mode);
  r.set_kernel_release(KernelRelease(*sysroot_));
  if (expected != v1::IOMMU_MODE_CURRENT && expected != v1::IOMMU_MODE_UNSPECIFIED) {
    r.set_mismatch(CheckMode(p, expected));
  }
  if (!expected_release.empty() && r.kernel_release() != expected_release) {
    std::string kernel =
        absl::StrCat("the node runs kernel ", r.kernel_release(), ", not ", expected_release);
    r.set_mismatch(r.mismatch().empty() ? kernel : absl::StrCat(kernel, "; ", r.mismatch()));
  }
  Evidence& e = out.evidence;
  e["cmdline"] = p.cmdline;
  e["kernel_log"] = absl::StrJoin(p.kernel_log.lines, " | ");
  e["warnings"] = absl::StrJoin(p.warnings, " | ");
  std::vector<std::string> groups;
  for (size_t i = 0; i < p.groups.size(); ++i) {
    groups.push_back(absl::StrCat(p.groups[i].id, ":", p.groups[i].type));
  }
  e["groups"] = absl::StrJoin(groups, " ");
  return out;
}

absl::StatusOr<NodeControl::SwitchResult> NodeControl::Switch(const v1::Step& step) {
  const v1::SwitchMode& s = step.switch_mode();
  // The controller was checked at submit, but a node trusts nothing it is
  // told to write as root into its boot configuration.
  for (const std::string& fragment : {s.tokens(), s.extra_cmdline()}) {
    std::vector<std::string> problems = iommu::CheckCmdlineForNode(fragment, config_.allow_cmdline);
    if (!problems.empty()) {
      Log(kLog, "refused a switch: ", absl::StrJoin(problems, "; "));
      return absl::PermissionDeniedError(absl::StrCat("refusing to write the boot configuration: ",
                                                      absl::StrJoin(problems, "; ")));
    }
  }
  BootTarget target;
  target.mode = s.mode();
  target.tokens = s.tokens();
  target.extra_cmdline = s.extra_cmdline();
  target.data_nic = config_.data_nic;
  target.grub_one_shot = s.grub_one_shot();
  if (s.has_kernel()) {
    target.kernel = {s.kernel().name(), s.kernel().release(), s.kernel().image(),
                     s.kernel().initrd(), s.kernel().grub_entry()};
  }
  std::vector<std::string> methods(s.methods().begin(), s.methods().end());
  if (s.fresh_boot()) std::erase(methods, std::string("sysfs"));
  for (const std::string& fragment :
       {target.kernel.release, target.kernel.image, target.kernel.initrd}) {
    // Paths and a release word only: nothing a shell or kexec would read as more.
    if (fragment.find_first_of(" \t\n'\"") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("refusing kernel ", target.kernel.name, ": '",
                                                     fragment, "' has spaces or quotes"));
    }
  }
  auto chosen = ChooseBootConfigurator(methods, target, sysroot_, runner_, config_.boot);
  if (!chosen.ok()) return chosen.status();
  std::unique_ptr<BootConfigurator> c = std::move(*chosen);
  std::string boot_before = BootId(*sysroot_);
  Log(kLog, "switching to ", ModeName(s.mode()), " with ", c->method(), " (tokens '", s.tokens(),
      "')", target.kernel.release.empty() ? "" : absl::StrCat(", kernel ", target.kernel.release));
  auto outcome = c->Apply(target);
  if (!outcome.ok()) return outcome.status();
  SwitchResult result;
  if (*outcome == SwitchOutcome::kSwitchedInPlace) {
    Switched(c->method(), boot_before, Probe(s.mode(), target.kernel.release), &result.outcome,
             &result.evidence);
    return result;
  }
  Evidence pending = {{"step_id", step.step_id()},
                      {"attempt_id", absl::StrCat(step.attempt_id())},
                      {"mode", absl::StrCat(static_cast<int>(s.mode()))},
                      {"method", c->method()},
                      {"boot_id_before", boot_before},
                      {"kernel_release", target.kernel.release}};
  absl::Status saved = host_->WriteFile(PendingPath(), Encode(pending));
  if (!saved.ok()) return saved;
  result.reboot = true;
  result.outcome.set_method(c->method());
  result.outcome.set_boot_id_before(boot_before);
  result.outcome.set_rebooting(true);
  result.evidence = {{"method", c->method()}, {"boot_id_before", boot_before}};
  configured_ = std::move(c);
  return result;
}

absl::Status NodeControl::Reboot() {
  if (!configured_) return absl::FailedPreconditionError("no boot was configured");
  Log(kLog, "rebooting with ", configured_->method());
  absl::Status s = configured_->Reboot();
  // Still here: the reboot did not happen (or a simulated one without a
  // process restart); a real failure must not be reported as a boot later.
  if (!s.ok()) (void)host_->RemoveAll(PendingPath());
  return s;
}

std::optional<v1::StepUpdate> NodeControl::CompletePendingBoot() {
  auto text = host_->ReadFile(PendingPath());
  if (!text.ok()) return std::nullopt;
  Evidence pending = Decode(*text);
  int mode = 0;
  int64_t attempt = 0;
  absl::SimpleAtoi(pending["mode"], &mode);
  absl::SimpleAtoi(pending["attempt_id"], &attempt);
  v1::StepUpdate u;
  u.set_step_id(pending["step_id"]);
  u.set_attempt_id(attempt);
  u.set_phase(v1::StepUpdate::PHASE_SUCCEEDED);
  v1::SwitchOutcome* outcome = u.mutable_switch_outcome();
  Evidence e;
  Switched(pending["method"], pending["boot_id_before"],
           Probe(static_cast<v1::IommuMode>(mode), pending["kernel_release"]), outcome, &e);
  for (const auto& [k, v] : e) (*u.mutable_evidence())[k] = v;
  (void)host_->RemoveAll(PendingPath());
  const v1::ProbeReport& r = outcome->probe();
  Log(kLog, "booted after ", pending["method"], " switch (boot ", outcome->boot_id_before(), " -> ",
      r.boot_id(), "): ", r.detected(), r.mismatch().empty() ? "" : ", " + r.mismatch());
  return u;
}

}  // namespace iommuvm::agent
