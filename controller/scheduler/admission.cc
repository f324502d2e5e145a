#include "controller/scheduler/admission.h"

#include <algorithm>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/cpu_list.h"
#include "controller/scheduler/pairing.h"
#include "controller/scheduler/scheduler_helpers.h"
#include "spec/yaml_reader.h"

namespace iommuvm::scheduler {

namespace {

// The program that serves each app.
std::string ServerProgram(const std::string& app) {
  if (app == "redis") return "redis-server";
  return app;  // memcached, nginx, iperf3, sockperf (one program serves and drives)
}

bool Matches(const store::NodeRecord& n, const spec::NodesSpec& nodes, v1::Role role) {
  if (std::find(n.roles.begin(), n.roles.end(), role) == n.roles.end()) return false;
  if (n.labels.count(kParentLabel)) return false;  // a guest: part of its host's VM runs
  if (!nodes.pairs.empty()) {
    for (const auto& p : nodes.pairs) {
      if ((role == v1::ROLE_SERVER ? p.server : p.client) == n.agent_id) return true;
    }
    return false;
  }
  return LabelsMatch(n.labels, nodes.selector);
}

void CheckTools(const std::string& yaml, const spec::ExperimentSpec& spec,
                const std::vector<store::NodeRecord>& nodes, spec::SpecErrors* errors) {
  // Bare-metal runs serve on the server node; VM runs serve in the guest
  // image and need QEMU on the server node.
  bool bare_metal = false, vms = false;
  for (const std::string& vm : spec.matrix.vm) (vm == "bare-metal" ? bare_metal : vms) = true;
  for (const std::string& name : spec.matrix.workload) {
    const spec::WorkloadSpec& w = spec.workloads.at(name);
    std::vector<std::pair<v1::Role, std::string>> needs = {{v1::ROLE_CLIENT, w.generator.tool}};
    if (bare_metal) needs.emplace_back(v1::ROLE_SERVER, ServerProgram(w.app));
    if (vms) needs.emplace_back(v1::ROLE_SERVER, "qemu-system-x86_64");
    for (const auto& [role, program] : needs) {
      for (const auto& n : nodes) {
        if (!Matches(n, spec.nodes, role) || n.tools.count(program)) continue;
        std::vector<std::string> has;
        for (const auto& [tool, _] : n.tools) has.push_back(tool);
        std::string path = absl::StrCat("workloads.", name,
                                        role == v1::ROLE_SERVER ? ".app" : ".generator.tool");
        errors->push_back(spec::ErrorAt(
            yaml, path,
            absl::StrCat("node '", n.agent_id, "' (", role == v1::ROLE_SERVER ? "server" : "client",
                         ") does not have ", program, "; it has ",
                         has.empty() ? "none of the known tools" : absl::StrJoin(has, ", "),
                         ". Install it there, or choose nodes with nodes.pairs/selector")));
      }
    }
  }
}

// What a VM config needs of every server node that may run it, read from
// the node's registered inventory: the key of the spec it is located at
// ("" when the config needs nothing of this kind), and why the node falls
// short ("" when it does not).
struct VmNeed {
  std::function<std::string(const spec::VmSpec&)> key;
  std::function<std::string(const v1::Inventory&)> shortfall;
};

std::vector<VmNeed> VmNeeds() {
  return {
      // A KVM guest needs /dev/kvm.
      {[](const spec::VmSpec& vm) { return vm.accel == "kvm" ? "accel" : ""; },
       [](const v1::Inventory& inv) -> std::string {
         if (inv.kvm_device()) return "";
         return "has no /dev/kvm, so it cannot run a KVM guest; use nodes with VT-x/AMD-V "
                "enabled, or accel: tcg (emulation: its numbers are not comparable)";
       }},
      // backend: libvirt needs a libvirtd answering the agent.
      {[](const spec::VmSpec& vm) {
         if (vm.backend != "libvirt") return "";
         return vm.libvirt_xml.empty() ? "backend" : "libvirt_xml";
       },
       [](const v1::Inventory& inv) -> std::string {
         if (!inv.libvirt().empty()) return "";
         return "has no libvirtd answering its agent (install libvirt-daemon-system and start "
                "libvirtd, or set the agent's --libvirt_uri); or use backend: qemu";
       }},
      // nic vfio-vf needs a data NIC with SR-IOV (unless the spec names the VF).
      {[](const spec::VmSpec& vm) { return vm.nic == "vfio-vf" && vm.vf_bdf.empty() ? "nic" : ""; },
       [](const v1::Inventory& inv) -> std::string {
         const v1::Nic* data = nullptr;
         for (const v1::Nic& nic : inv.nics()) {
           if (nic.name() == inv.data_nic()) data = &nic;
         }
         if (data != nullptr && data->sriov_totalvfs() > 0) return "";
         return absl::StrCat("cannot give the guest a VF: ",
                             data == nullptr
                                 ? "its agent names no PCI data NIC (start it with --data_nic)"
                                 : absl::StrCat("its data NIC ", data->name(),
                                                " offers no SR-IOV VFs (enable SR-IOV in the "
                                                "NIC's firmware)"),
                             "; or use nic: virtio");
       }},
      // translation: nested needs what the host IOMMU, the kernel and QEMU
      // must all offer; each one missing is named.
      {[](const spec::VmSpec& vm) { return vm.translation == "nested" ? "translation" : ""; },
       [](const v1::Inventory& inv) -> std::string {
         std::vector<std::string> missing;
         if (!inv.iommufd())
           missing.push_back("iommufd (/dev/iommu: a kernel with CONFIG_IOMMUFD)");
         if (!inv.vtd_nesting()) {
           missing.push_back(
               "VT-d nesting (ECAP.NEST and scalable mode on every DMAR unit of an Intel host)");
         }
         for (const char* feature :
              {"intel-iommu.x-scalable-mode", "intel-iommu.x-flts", "vfio-pci.iommufd"}) {
           if (std::find(inv.qemu_features().begin(), inv.qemu_features().end(), feature) ==
               inv.qemu_features().end()) {
             missing.push_back(absl::StrCat("QEMU's ", feature));
           }
         }
         if (missing.empty()) return "";
         return absl::StrCat("cannot run nested translation: it lacks ",
                             absl::StrJoin(missing, ", "), "; or use translation: shadow");
       }},
  };
}

void CheckVmNeeds(const std::string& yaml, const spec::ExperimentSpec& spec,
                  const std::vector<store::NodeRecord>& nodes, spec::SpecErrors* errors) {
  std::vector<VmNeed> needs = VmNeeds();
  for (const std::string& name : spec.matrix.vm) {
    auto vm = spec.vms.find(name);
    if (vm == spec.vms.end()) continue;
    for (const auto& n : nodes) {
      v1::Inventory inventory;
      if (!Matches(n, spec.nodes, v1::ROLE_SERVER) || !ReadInventory(n, &inventory)) {
        continue;
      }
      for (const VmNeed& need : needs) {
        std::string key = need.key(vm->second);
        if (key.empty()) continue;
        std::string why = need.shortfall(inventory);
        if (why.empty()) continue;
        errors->push_back(spec::ErrorAt(yaml, absl::StrCat("vms.", name, ".", key),
                                        absl::StrCat("node '", n.agent_id, "' ", why)));
      }
    }
  }
}

}  // namespace

spec::SpecErrors CheckAgainstNodes(const std::string& yaml, const spec::ExperimentSpec& spec,
                                   const std::vector<store::NodeRecord>& nodes) {
  spec::SpecErrors errors;
  std::vector<std::string> known;
  for (const auto& n : nodes) known.push_back(n.agent_id);
  for (size_t i = 0; i < spec.nodes.pairs.size(); ++i) {
    const spec::PairSpec& p = spec.nodes.pairs[i];
    for (const auto& [role_key, id, role] :
         {std::tuple{"server", p.server, v1::ROLE_SERVER},
          std::tuple{"client", p.client, v1::ROLE_CLIENT}}) {
      std::string path = absl::StrCat("nodes.pairs[", i, "].", role_key);
      auto node = std::find_if(nodes.begin(), nodes.end(),
                               [&](const store::NodeRecord& n) { return n.agent_id == id; });
      if (node == nodes.end()) {
        std::string hint = ClosestMatch(id, known);
        errors.push_back(spec::ErrorAt(
            yaml, path,
            absl::StrCat("no agent '", id, "' has registered with this controller",
                         hint.empty() ? "" : absl::StrCat(" (did you mean '", hint, "'?)"),
                         known.empty() ? "; none has yet: start the agents first"
                                       : absl::StrCat("; known: ", absl::StrJoin(known, ", ")))));
        continue;
      }
      if (std::find(node->roles.begin(), node->roles.end(), role) == node->roles.end()) {
        errors.push_back(spec::ErrorAt(
            yaml, path,
            absl::StrCat("agent '", id, "' does not have the ", role_key,
                         " role; start it with --roles=", role_key, " (or server,client)")));
      }
    }
  }
  CheckTools(yaml, spec, nodes, &errors);
  CheckVmNeeds(yaml, spec, nodes, &errors);
  return errors;
}

spec::SpecErrors NumaWarnings(const std::string& yaml, const spec::ExperimentSpec& spec,
                              const std::vector<store::NodeRecord>& nodes) {
  spec::SpecErrors warnings;
  for (const auto& [name, w] : spec.workloads) {
    const std::string& cores = w.server.cores;
    if (cores.empty() || absl::StartsWith(cores, "auto")) continue;
    auto listed = ParseCpuList(cores);
    if (!listed.ok()) continue;
    for (const auto& n : nodes) {
      v1::Inventory inv;
      if (!Matches(n, spec.nodes, v1::ROLE_SERVER) || !ReadInventory(n, &inv)) {
        continue;
      }
      std::map<int, std::vector<int>> by_node;  // NUMA node -> listed CPUs on it
      for (int i = 0; i < inv.numa_cpulists_size(); ++i) {
        auto cpus = ParseCpuList(inv.numa_cpulists(i));
        if (!cpus.ok()) continue;
        for (int c : *listed) {
          if (cpus->count(c)) by_node[i].push_back(c);
        }
      }
      int nic_node = -1;
      for (const v1::Nic& nic : inv.nics()) {
        if (nic.name() == inv.data_nic()) nic_node = nic.numa_node();
      }
      std::string path = absl::StrCat("workloads.", name, ".server.cores");
      if (by_node.size() > 1) {
        std::vector<std::string> parts;
        for (const auto& [node, cpus] : by_node) {
          parts.push_back(absl::StrCat(cpus.size(), " on node ", node));
        }
        warnings.push_back(spec::ErrorAt(
            yaml, path,
            absl::StrCat("on '", n.agent_id, "' the cores ", cores, " span NUMA nodes (",
                         absl::StrJoin(parts, ", "),
                         "): memory and the NIC are remote for some of them; cores: auto picks "
                         "the data NIC's node")));
      } else if (by_node.size() == 1 && nic_node >= 0 && by_node.begin()->first != nic_node) {
        warnings.push_back(spec::ErrorAt(
            yaml, path,
            absl::StrCat("on '", n.agent_id, "' the cores ", cores, " are on NUMA node ",
                         by_node.begin()->first, " but its data NIC ", inv.data_nic(),
                         " is on node ", nic_node, "; cores: auto picks the NIC's node")));
      }
    }
  }
  return warnings;
}

}  // namespace iommuvm::scheduler
