#include "bench/sim_node_facts.h"

#include <filesystem>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/node/inventory.h"
#include "agent/node/sim_node.h"

namespace iommuvm::bench {
namespace {

// The data NIC's group in SimBoot's sysroot (its virtio NIC).
constexpr char kDataGroupType[] = "/sys/kernel/iommu_groups/2/type";

// What ToolVersions finds on a node with the servers and generators
// installed (Debian 12's packages): a submit checks the nodes have the tools.
const std::map<std::string, std::string>& SimToolVersions() {
  static const auto* tools = new std::map<std::string, std::string>{
      {"redis-server", "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64"},
      {"redis-benchmark", "redis-benchmark 7.0.15"},
      {"memcached", "memcached 1.6.18"},
      {"memtier_benchmark", "memtier_benchmark 1.4.0"},
      {"memcaslap", "memcaslap v1.0"},
      {"nginx", "nginx version: nginx/1.22.1"},
      {"wrk", "wrk 4.1.0 [epoll] Copyright (C) 2012 Will Glozer"},
      {"iperf3", "iperf 3.12 (cJSON 1.7.15)"},
      {"sockperf", "sockperf: == version #3.10-no.git =="},
  };
  return *tools;
}

}  // namespace

SimNodeFacts::SimNodeFacts(std::string scratch_dir)
    : dir_(std::move(scratch_dir)), sysroot_(dir_ + "/sysroot"), host_("/") {}

SimNodeFacts::~SimNodeFacts() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::StatusOr<std::unique_ptr<SimNodeFacts>> SimNodeFacts::Create(const std::string& scratch_dir) {
  std::unique_ptr<SimNodeFacts> facts(new SimNodeFacts(scratch_dir));
  if (absl::Status s = facts->host_.MakeDirs(scratch_dir + "/state"); !s.ok()) return s;
  std::lock_guard lock(facts->mu_);
  if (absl::Status s = facts->Restore(SimNodeState{}); !s.ok()) return s;
  return facts;
}

std::string SimNodeFacts::NewBootId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  uint64_t a = rng(), b = rng();
  return absl::StrFormat("%08x-%04x-4%03x-%04x-%012x", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                         0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffull);
}

absl::Status SimNodeFacts::Restore(const SimNodeState& node) {
  if (absl::Status s = agent::SimBoot(&sysroot_, node.cmdline, agent::SimNodeSpec{}); !s.ok()) {
    return s;
  }
  if (!node.group_type.empty()) {
    if (absl::Status s = sysroot_.WriteFile(kDataGroupType, node.group_type + "\n"); !s.ok()) {
      return s;
    }
  }
  scratch_boot_id_ = agent::BootId(sysroot_);
  return absl::OkStatus();
}

agent::NodeControl SimNodeFacts::Control() {
  agent::NodeControlConfig config;
  config.state_dir = dir_ + "/state";
  config.boot.simulate = true;  // no restart_argv: a sim reboot regenerates the sysroot only
  return agent::NodeControl(&sysroot_, &host_, &runner_, config);
}

void SimNodeFacts::Rebrand(v1::ProbeReport* report, const std::string& boot_id) const {
  if (report->boot_id() == scratch_boot_id_ || report->boot_id().empty()) {
    report->set_boot_id(boot_id);
  }
}

agent::NodeControl::Probed SimNodeFacts::Probe(const SimNodeState& node, v1::IommuMode expected,
                                               const std::string& release) {
  std::lock_guard lock(mu_);
  auto key = std::make_tuple(node.cmdline, node.group_type, static_cast<int>(expected), release);
  auto it = probes_.find(key);
  if (it == probes_.end()) {
    agent::NodeControl::Probed probed;
    if (absl::Status s = Restore(node); !s.ok()) {
      probed.report.set_detected("unknown");
      probed.report.set_mismatch(std::string(s.message()));
    } else {
      probed = Control().Probe(expected, release);
      probed.report.clear_boot_id();  // each agent's own
    }
    it = probes_.emplace(key, std::move(probed)).first;
  }
  agent::NodeControl::Probed out = it->second;
  out.report.set_boot_id(node.boot_id);
  return out;
}

v1::Register SimNodeFacts::RegisterFor(const std::string& agent_id, const SimNodeState& node) {
  v1::Register reg;
  reg.set_agent_id(agent_id);
  reg.set_boot_id(node.boot_id);
  reg.set_kernel_cmdline(node.cmdline);
  *reg.mutable_probe() = Probe(node, v1::IOMMU_MODE_CURRENT, "").report;
  {
    std::lock_guard lock(mu_);
    auto it = inventories_.find(node.cmdline);
    if (it == inventories_.end()) {
      SimNodeState booted = node;
      booted.group_type.clear();
      (void)Restore(booted);
      it = inventories_.emplace(node.cmdline, agent::CollectInventory(sysroot_)).first;
    }
    *reg.mutable_inventory() = it->second;
  }
  reg.mutable_inventory()->set_hostname(agent_id);
  reg.mutable_inventory()->set_data_nic(reg.probe().data_nic());
  reg.mutable_inventory()->set_stock_kernel_release(agent::kSimStockRelease);
  for (const auto& [tool, version] : SimToolVersions()) {
    (*reg.mutable_software_versions())[tool] = version;
  }
  reg.set_agent_version("0.1.0");
  reg.set_simulated(true);
  return reg;
}

SimSwitch SimNodeFacts::Switch(const SimNodeState& node, const v1::Step& step) {
  std::lock_guard lock(mu_);
  SimSwitch out;
  if (absl::Status s = Restore(node); !s.ok()) {
    out.error = std::string(s.message());
    return out;
  }
  agent::NodeControl control = Control();
  auto result = control.Switch(step);
  if (!result.ok()) {
    out.error = std::string(result.status().message());
    return out;
  }
  out.outcome = result->outcome;
  out.evidence = result->evidence;
  out.outcome.set_boot_id_before(node.boot_id);
  out.evidence["boot_id_before"] = node.boot_id;
  out.next = node;
  if (!result->reboot) {  // sim-sysfs: the group retyped in place
    auto type = sysroot_.ReadFile(kDataGroupType);
    out.next.group_type = type.ok() ? std::string(absl::StripAsciiWhitespace(*type)) : "";
    Rebrand(out.outcome.mutable_probe(), node.boot_id);
    return out;
  }
  // The boot itself: the sysroot regenerated for the new command line, and
  // the switch's outcome as the next boot's agent reports it.
  out.reboot = true;
  if (absl::Status s = control.Reboot(); !s.ok()) {
    out.error = absl::StrCat("reboot failed: ", s.message());
    return out;
  }
  scratch_boot_id_ = agent::BootId(sysroot_);
  auto cmdline = sysroot_.ReadFile("/proc/cmdline");
  out.next.cmdline = cmdline.ok() ? std::string(absl::StripAsciiWhitespace(*cmdline)) : "";
  out.next.group_type.clear();
  out.next.boot_id = NewBootId();
  std::optional<v1::StepUpdate> after = control.CompletePendingBoot();
  if (!after) {
    out.error = "the simulated boot left no pending switch to complete";
    return out;
  }
  out.after = std::move(*after);
  v1::SwitchOutcome* done = out.after.mutable_switch_outcome();
  done->set_boot_id_before(node.boot_id);
  Rebrand(done->mutable_probe(), out.next.boot_id);
  (*out.after.mutable_evidence())["boot_id_before"] = node.boot_id;
  return out;
}

}  // namespace iommuvm::bench
