#include "agent/node/host_environment.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/node/ethtool_settings.h"
#include "agent/node/numa_cpus.h"
#include "common/cpu_list.h"

namespace iommuvm::agent {
namespace {

constexpr char kCpu[] = "/sys/devices/system/cpu";
const char* OnOff(bool b) { return b ? "on" : "off"; }

// Whether a knob read as `read` ("on", "off (fixed)") is `value`.
bool Reads(const std::string& read, const std::string& value) {
  return read == value || absl::StartsWith(read, value + " ");
}

std::string CpuPath(int cpu, const std::string& rest) {
  return absl::StrCat(kCpu, "/cpu", cpu, "/", rest);
}

}  // namespace

std::string HostEnvironment::Run(const std::vector<std::string>& argv) {
  CommandSpec spec;
  spec.argv = argv;
  spec.timeout = absl::Seconds(20);
  auto r = runner_->Run(spec);
  if (!r.ok()) return std::string(r.status().message());
  if (!r->ok()) return r->Describe(argv[0]);
  return "";
}

std::vector<int> HostEnvironment::OnlineCpus() {
  auto cpus = ParseCpuList(ReadTrimmed(*fs_, absl::StrCat(kCpu, "/online")));
  if (!cpus.ok()) return {};
  return {cpus->begin(), cpus->end()};
}

std::string HostEnvironment::Governor() {
  std::map<std::string, int> seen;
  for (int cpu : OnlineCpus()) {
    std::string g = ReadTrimmed(*fs_, CpuPath(cpu, "cpufreq/scaling_governor"));
    if (!g.empty()) ++seen[g];
  }
  if (seen.empty()) return "unsupported (no cpufreq driver)";
  if (seen.size() == 1) return seen.begin()->first;
  std::vector<std::string> parts;
  for (const auto& [g, n] : seen) parts.push_back(absl::StrCat(g, " on ", n, " CPUs"));
  return absl::StrJoin(parts, ", ");
}

std::string HostEnvironment::Turbo() {
  std::string no_turbo = ReadTrimmed(*fs_, absl::StrCat(kCpu, "/intel_pstate/no_turbo"));
  if (!no_turbo.empty()) return no_turbo == "0" ? "on" : "off";
  std::string boost = ReadTrimmed(*fs_, absl::StrCat(kCpu, "/cpufreq/boost"));
  if (!boost.empty()) return boost == "1" ? "on" : "off";
  return "unsupported (no intel_pstate/no_turbo or cpufreq/boost)";
}

std::string HostEnvironment::Smt() {
  std::string control = ReadTrimmed(*fs_, absl::StrCat(kCpu, "/smt/control"));
  return control.empty() ? "unsupported (no smt/control)" : control;
}

std::string HostEnvironment::CStates() {
  // cpu0's enabled idle states; with every CPU's the same, that is all.
  std::vector<int> cpus = OnlineCpus();
  if (cpus.empty()) return "unsupported";
  std::vector<std::string> enabled;
  for (int k = 0;; ++k) {
    std::string dir = CpuPath(cpus.front(), absl::StrCat("cpuidle/state", k));
    std::string name = ReadTrimmed(*fs_, dir + "/name");
    if (name.empty()) break;
    if (ReadTrimmed(*fs_, dir + "/disable") != "1") enabled.push_back(name);
  }
  if (enabled.empty() && !fs_->Exists(CpuPath(cpus.front(), "cpuidle/state0/name"))) {
    return "unsupported (no cpuidle states)";
  }
  return absl::StrCat("enabled: ", absl::StrJoin(enabled, ","));
}

std::string HostEnvironment::IrqBalance() {
  CommandSpec spec;
  spec.argv = {"systemctl", "is-active", "irqbalance"};
  spec.timeout = absl::Seconds(10);
  auto r = runner_->Run(spec);
  if (!r.ok()) return "unknown (no systemctl)";
  std::string state(absl::StripAsciiWhitespace(r->out));
  return state.empty() ? "unknown" : state;  // active, inactive, failed, unknown
}

std::string HostEnvironment::Ethtool(const std::vector<std::string>& args, bool* ok) {
  CommandSpec spec;
  spec.argv = {"ethtool"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = absl::Seconds(10);
  auto r = runner_->Run(spec);
  *ok = r.ok() && r->ok();
  if (!r.ok()) return std::string(r.status().message());
  return *ok ? r->out : std::string(absl::StripAsciiWhitespace(r->err + r->out));
}

std::string HostEnvironment::Channels(const std::string& nic) {
  bool ok = false;
  std::string out = Ethtool({"-l", nic}, &ok);
  if (!ok) return absl::StrCat("unsupported (", out, ")");
  EthtoolLimits l = ParseEthtoolLimits(out);
  std::vector<std::string> parts;
  for (const char* k : {"Combined", "RX", "TX", "Other"}) {
    if (l.current.count(k))
      parts.push_back(absl::StrCat(absl::AsciiStrToLower(k), " ", l.current.at(k)));
  }
  return parts.empty() ? "unsupported" : absl::StrJoin(parts, " ");
}

std::string HostEnvironment::Rings(const std::string& nic) {
  bool ok = false;
  std::string out = Ethtool({"-g", nic}, &ok);
  if (!ok) return absl::StrCat("unsupported (", out, ")");
  EthtoolLimits l = ParseEthtoolLimits(out);
  if (!l.current.count("RX") && !l.current.count("TX")) return "unsupported";
  return absl::StrCat("rx ", l.current.count("RX") ? l.current.at("RX") : 0, " tx ",
                      l.current.count("TX") ? l.current.at("TX") : 0);
}

std::string HostEnvironment::Pause(const std::string& nic) {
  bool ok = false;
  std::string out = Ethtool({"-a", nic}, &ok);
  if (!ok) return absl::StrCat("unsupported (", out, ")");
  auto p = ParseEthtoolPause(out);
  if (!p.count("RX") || !p.count("TX")) return "unsupported";
  return absl::StrCat("rx ", OnOff(p.at("RX")), " tx ", OnOff(p.at("TX")));
}

std::string HostEnvironment::Offload(const std::string& nic, const std::string& name) {
  bool ok = false;
  std::string out = Ethtool({"-k", nic}, &ok);
  if (!ok) return absl::StrCat("unsupported (", out, ")");
  auto features = ParseEthtoolFeatures(out);
  auto it = features.find(EthtoolFeatureName(name));
  if (it == features.end()) return "unsupported";
  return absl::StrCat(OnOff(it->second.on), it->second.fixed ? " (fixed)" : "");
}

std::vector<int> HostEnvironment::NicIrqs(const std::string& nic) {
  std::string link = fs_->ReadLink(absl::StrCat("/sys/class/net/", nic, "/device")).value_or("");
  std::string bdf = link.substr(link.rfind('/') + 1);
  std::vector<int> irqs;
  std::string text = fs_->ReadFile("/proc/interrupts").value_or("");
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int irq = 0;
    if (f.size() < 2 || !absl::SimpleAtoi(absl::StripSuffix(f[0], ":"), &irq)) continue;
    absl::string_view name = f.back();
    bool mine = absl::StartsWith(name, nic + "-") || name == nic ||
                (!bdf.empty() && absl::EndsWith(name, "@pci:" + bdf));
    if (mine) irqs.push_back(irq);
  }
  return irqs;
}

std::string HostEnvironment::Irqs(const std::string& nic) {
  std::vector<int> irqs = NicIrqs(nic);
  if (irqs.empty()) return "none (no IRQs of its own)";
  std::vector<std::string> where;
  for (int irq : irqs) {
    where.push_back(ReadTrimmed(*fs_, absl::StrCat("/proc/irq/", irq, "/smp_affinity_list")));
  }
  return absl::StrCat(irqs.size(), " IRQs on ", absl::StrJoin(where, " "));
}

std::vector<int> HostEnvironment::IrqCpus(const std::string& nic, const std::string& busy_cores) {
  std::set<int> busy = ParseCpuList(busy_cores).value_or(std::set<int>{});
  auto choice = ResolveCpus(*fs_, "auto", nic);
  if (!choice.ok()) return OnlineCpus();
  std::vector<int> free;
  for (int c : choice->cpus) {
    if (!busy.count(c)) free.push_back(c);
  }
  return free.empty() ? choice->cpus : free;
}

std::map<std::string, std::string> HostEnvironment::Snapshot(const std::string& nic) {
  std::map<std::string, std::string> env = {
      {"kernel", ReadTrimmed(*fs_, "/proc/sys/kernel/osrelease")},
      {"governor", Governor()},
      {"turbo", Turbo()},
      {"smt", Smt()},
      {"cstates", CStates()},
      {"irqbalance", IrqBalance()},
  };
  if (nic.empty()) return env;
  env["nic"] = nic;
  env["nic.mtu"] = ReadTrimmed(*fs_, absl::StrCat("/sys/class/net/", nic, "/mtu"));
  env["nic.channels"] = Channels(nic);
  env["nic.rings"] = Rings(nic);
  env["nic.pause"] = Pause(nic);
  for (const char* o : {"tso", "gro", "lro"}) env[absl::StrCat("nic.", o)] = Offload(nic, o);
  env["nic.irqs"] = Irqs(nic);
  return env;
}

absl::StatusOr<HostEnvironment::Applied> HostEnvironment::Apply(const v1::HostSettings& s,
                                                                const std::string& nic,
                                                                const std::string& busy_cores) {
  std::vector<std::string> problems;
  // Each knob: what was asked, the setter's complaint ("" when it ran), and
  // the value read back against what it must read.
  auto check = [&](const std::string& knob, const std::string& wanted, const std::string& error,
                   const std::string& read, bool held) {
    if (held && error.empty()) return;
    problems.push_back(absl::StrCat(knob, ": asked ", wanted, ", reads ", read,
                                    error.empty() ? "" : absl::StrCat(" (", error, ")")));
  };
  std::vector<int> cpus = OnlineCpus();
  if (s.has_governor()) {
    std::string error;
    for (int cpu : cpus) {
      std::string path = CpuPath(cpu, "cpufreq/scaling_governor");
      if (!fs_->Exists(path)) {
        error = absl::StrCat(path, " does not exist: no cpufreq driver");
        break;
      }
      if (absl::Status w = fs_->WriteFile(path, s.governor()); !w.ok()) {
        error = std::string(w.message());
        break;
      }
    }
    std::string read = Governor();
    check("governor", s.governor(), error, read, read == s.governor());
  }
  if (s.has_turbo()) {
    std::string error;
    std::string no_turbo = absl::StrCat(kCpu, "/intel_pstate/no_turbo");
    std::string boost = absl::StrCat(kCpu, "/cpufreq/boost");
    if (fs_->Exists(no_turbo)) {
      error = std::string(fs_->WriteFile(no_turbo, s.turbo() ? "0" : "1").message());
    } else if (fs_->Exists(boost)) {
      error = std::string(fs_->WriteFile(boost, s.turbo() ? "1" : "0").message());
    } else {
      error = "neither intel_pstate/no_turbo nor cpufreq/boost exists";
    }
    std::string read = Turbo();
    check("turbo", OnOff(s.turbo()), error, read, read == OnOff(s.turbo()));
  }
  if (s.has_smt()) {
    std::string path = absl::StrCat(kCpu, "/smt/control");
    std::string error = fs_->Exists(path)
                            ? std::string(fs_->WriteFile(path, OnOff(s.smt())).message())
                            : "no smt/control (kernel without SMT control)";
    std::string read = Smt();
    bool held = s.smt() ? read == "on" : (read == "off" || read == "forceoff");
    check("smt", OnOff(s.smt()), error, read, held);
    cpus = OnlineCpus();  // SMT off takes the siblings offline
  }
  if (s.has_cstate_max()) {
    std::string error;
    bool held = !cpus.empty();
    for (int cpu : cpus) {
      for (uint32_t k = 0;; ++k) {
        std::string disable = CpuPath(cpu, absl::StrCat("cpuidle/state", k, "/disable"));
        if (!fs_->Exists(disable)) {
          if (k == 0) error = absl::StrCat("no cpuidle states on cpu", cpu);
          break;
        }
        std::string want = k > s.cstate_max() ? "1" : "0";
        if (absl::Status w = fs_->WriteFile(disable, want); !w.ok() && error.empty()) {
          error = std::string(w.message());
        }
        held = held && ReadTrimmed(*fs_, disable) == want;
      }
    }
    check("cstate_max", absl::StrCat(s.cstate_max()), error, CStates(), held && error.empty());
  }
  if (s.has_irqbalance()) {
    std::string error = Run({"systemctl", s.irqbalance() ? "start" : "stop", "irqbalance"});
    std::string read = IrqBalance();
    // Stopping a service that is not installed leaves it stopped.
    bool held = s.irqbalance() ? read == "active" : read != "active";
    if (!s.irqbalance() && held) error.clear();
    check("irqbalance", s.irqbalance() ? "running" : "stopped", error, read, held);
  }
  if (!nic.empty()) {
    if (s.has_mtu()) {
      std::string error = Run({"ip", "link", "set", "dev", nic, "mtu", absl::StrCat(s.mtu())});
      std::string read = ReadTrimmed(*fs_, absl::StrCat("/sys/class/net/", nic, "/mtu"));
      check("nic.mtu", absl::StrCat(s.mtu()), error, read, read == absl::StrCat(s.mtu()));
    }
    if (s.has_channels()) {
      bool ok = false;
      EthtoolLimits l = ParseEthtoolLimits(Ethtool({"-l", nic}, &ok));
      std::string n = absl::StrCat(s.channels());
      std::string error = l.max.count("Combined") ? Run({"ethtool", "-L", nic, "combined", n})
                                                  : Run({"ethtool", "-L", nic, "rx", n, "tx", n});
      std::string read = Channels(nic);
      bool held = read == absl::StrCat("combined ", n) ||
                  absl::StartsWith(read, absl::StrCat("combined ", n, " ")) ||
                  absl::StartsWith(read, absl::StrCat("rx ", n, " tx ", n));
      check("nic.channels", n, error, read, held);
    }
    if (s.has_rx_ring() || s.has_tx_ring()) {
      std::vector<std::string> argv = {"ethtool", "-G", nic};
      if (s.has_rx_ring()) argv.insert(argv.end(), {"rx", absl::StrCat(s.rx_ring())});
      if (s.has_tx_ring()) argv.insert(argv.end(), {"tx", absl::StrCat(s.tx_ring())});
      std::string error = Run(argv);
      bool ok = false;
      EthtoolLimits l = ParseEthtoolLimits(Ethtool({"-g", nic}, &ok));
      bool held =
          ok &&
          (!s.has_rx_ring() || (l.current.count("RX") && l.current.at("RX") == s.rx_ring())) &&
          (!s.has_tx_ring() || (l.current.count("TX") && l.current.at("TX") == s.tx_ring()));
      check("nic.rings",
            absl::StrCat("rx ", s.has_rx_ring() ? absl::StrCat(s.rx_ring()) : "-", " tx ",
                         s.has_tx_ring() ? absl::StrCat(s.tx_ring()) : "-"),
            error, Rings(nic), held);
    }
    if (s.has_pause()) {
      std::string v = OnOff(s.pause());
      std::string error = Run({"ethtool", "-A", nic, "autoneg", "off", "rx", v, "tx", v});
      std::string read = Pause(nic);
      check("nic.pause", absl::StrCat("rx ", v, " tx ", v), error, read,
            read == absl::StrCat("rx ", v, " tx ", v));
    }
    std::map<std::string, bool> offloads(s.offloads().begin(), s.offloads().end());
    for (const auto& [name, on] : offloads) {
      std::string error = Run({"ethtool", "-K", nic, name, OnOff(on)});
      std::string read = Offload(nic, name);
      check(absl::StrCat("nic.", name), OnOff(on), error, read, Reads(read, OnOff(on)));
    }
    if (!s.irq_affinity().empty()) {
      std::vector<int> targets;
      if (s.irq_affinity() == "auto") {
        targets = IrqCpus(nic, busy_cores);
      } else if (auto list = ParseCpuList(s.irq_affinity()); list.ok()) {
        targets.assign(list->begin(), list->end());
      }
      std::vector<int> irqs = NicIrqs(nic);
      std::string error = irqs.empty() ? absl::StrCat(nic, " has no IRQs of its own") : "";
      bool held = !irqs.empty() && !targets.empty();
      for (size_t i = 0; i < irqs.size() && !targets.empty(); ++i) {
        std::string path = absl::StrCat("/proc/irq/", irqs[i], "/smp_affinity_list");
        std::string cpu = absl::StrCat(targets[i % targets.size()]);
        if (absl::Status w = fs_->WriteFile(path, cpu); !w.ok() && error.empty()) {
          error = std::string(w.message());
        }
        held = held && ReadTrimmed(*fs_, path) == cpu;
      }
      check("nic.irq_affinity", s.irq_affinity(), error, Irqs(nic), held && error.empty());
    }
  } else if (s.has_mtu() || s.has_channels() || s.has_rx_ring() || s.has_tx_ring() ||
             s.has_pause() || !s.offloads().empty() || !s.irq_affinity().empty()) {
    problems.push_back("nic: no data NIC (no interface holds the data address)");
  }
  Applied applied;
  applied.env = Snapshot(nic);
  if (problems.empty()) return applied;
  if (s.best_effort()) {
    applied.not_held = std::move(problems);
    return applied;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("host settings did not hold: ", absl::StrJoin(problems, "; "),
                   " (fix the node or the spec's host: section, or set host.best_effort: true "
                   "to record them as not held)"));
}

}  // namespace iommuvm::agent
