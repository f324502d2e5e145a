#include "controller/scheduler/admission.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/scheduler/pairing.h"
#include "controller/scheduler/scheduler_helpers.h"
#include "spec/yaml_reader.h"

namespace iommuvm::scheduler {

namespace {

// The program that serves each app.
std::string ServerProgram(const std::string& app) {
  if (app == "redis") return "redis-server";
  return app;  // memcached, nginx
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

// A KVM guest needs /dev/kvm on every server node that may run it.
void CheckKvm(const std::string& yaml, const spec::ExperimentSpec& spec,
              const std::vector<store::NodeRecord>& nodes, spec::SpecErrors* errors) {
  for (const std::string& name : spec.matrix.vm) {
    auto vm = spec.vms.find(name);
    if (vm == spec.vms.end() || vm->second.accel != "kvm") continue;
    for (const auto& n : nodes) {
      if (!Matches(n, spec.nodes, v1::ROLE_SERVER)) continue;
      v1::Inventory inventory;
      if (!google::protobuf::util::JsonStringToMessage(n.inventory_json, &inventory).ok() ||
          inventory.kvm_device()) {
        continue;
      }
      errors->push_back(spec::ErrorAt(
          yaml, absl::StrCat("vms.", name, ".accel"),
          absl::StrCat("node '", n.agent_id, "' has no /dev/kvm, so it cannot run a KVM guest; "
                       "use nodes with VT-x/AMD-V enabled, or accel: tcg (emulation: its numbers "
                       "are not comparable)")));
    }
  }
}

// backend: libvirt needs a libvirtd answering the agent on every server
// node that may run the guest.
void CheckLibvirt(const std::string& yaml, const spec::ExperimentSpec& spec,
                  const std::vector<store::NodeRecord>& nodes, spec::SpecErrors* errors) {
  for (const std::string& name : spec.matrix.vm) {
    auto vm = spec.vms.find(name);
    if (vm == spec.vms.end() || vm->second.backend != "libvirt") continue;
    for (const auto& n : nodes) {
      if (!Matches(n, spec.nodes, v1::ROLE_SERVER)) continue;
      v1::Inventory inventory;
      if (!google::protobuf::util::JsonStringToMessage(n.inventory_json, &inventory).ok() ||
          !inventory.libvirt().empty()) {
        continue;
      }
      errors->push_back(spec::ErrorAt(
          yaml,
          absl::StrCat("vms.", name, vm->second.libvirt_xml.empty() ? ".backend" : ".libvirt_xml"),
          absl::StrCat("node '", n.agent_id,
                       "' has no libvirtd answering its agent (install "
                       "libvirt-daemon-system and start libvirtd, or set the agent's "
                       "--libvirt_uri); or use backend: qemu")));
    }
  }
}

// nic vfio-vf needs a data NIC with SR-IOV on every server node that may
// run the guest (unless the spec names the VF itself).
void CheckSriov(const std::string& yaml, const spec::ExperimentSpec& spec,
                const std::vector<store::NodeRecord>& nodes, spec::SpecErrors* errors) {
  for (const std::string& name : spec.matrix.vm) {
    auto vm = spec.vms.find(name);
    if (vm == spec.vms.end() || vm->second.nic != "vfio-vf" || !vm->second.vf_bdf.empty()) {
      continue;
    }
    for (const auto& n : nodes) {
      if (!Matches(n, spec.nodes, v1::ROLE_SERVER)) continue;
      v1::Inventory inventory;
      if (!google::protobuf::util::JsonStringToMessage(n.inventory_json, &inventory).ok()) continue;
      const v1::Nic* data = nullptr;
      for (const v1::Nic& nic : inventory.nics()) {
        if (nic.name() == inventory.data_nic()) data = &nic;
      }
      if (data != nullptr && data->sriov_totalvfs() > 0) continue;
      errors->push_back(spec::ErrorAt(
          yaml, absl::StrCat("vms.", name, ".nic"),
          absl::StrCat("node '", n.agent_id, "' cannot give the guest a VF: ",
                       data == nullptr
                           ? "its agent names no PCI data NIC (start it with --data_nic)"
                           : absl::StrCat("its data NIC ", data->name(),
                                          " offers no SR-IOV VFs (enable SR-IOV in the NIC's "
                                          "firmware)"),
                       "; or use nic: virtio")));
    }
  }
}

// translation: nested needs, on every server node that may run the guest,
// what the host IOMMU, the kernel and QEMU must all offer; the error names
// each one missing.
void CheckNested(const std::string& yaml, const spec::ExperimentSpec& spec,
                 const std::vector<store::NodeRecord>& nodes, spec::SpecErrors* errors) {
  for (const std::string& name : spec.matrix.vm) {
    auto vm = spec.vms.find(name);
    if (vm == spec.vms.end() || vm->second.translation != "nested") continue;
    for (const auto& n : nodes) {
      if (!Matches(n, spec.nodes, v1::ROLE_SERVER)) continue;
      v1::Inventory inventory;
      if (!google::protobuf::util::JsonStringToMessage(n.inventory_json, &inventory).ok()) continue;
      std::vector<std::string> missing;
      if (!inventory.iommufd()) {
        missing.push_back("iommufd (/dev/iommu: a kernel with CONFIG_IOMMUFD)");
      }
      if (!inventory.vtd_nesting()) {
        missing.push_back(
            "VT-d nesting (ECAP.NEST and scalable mode on every DMAR unit of an Intel host)");
      }
      auto has = [&](const char* feature) {
        return std::find(inventory.qemu_features().begin(), inventory.qemu_features().end(),
                         feature) != inventory.qemu_features().end();
      };
      for (const char* feature :
           {"intel-iommu.x-scalable-mode", "intel-iommu.x-flts", "vfio-pci.iommufd"}) {
        if (!has(feature)) missing.push_back(absl::StrCat("QEMU's ", feature));
      }
      if (missing.empty()) continue;
      errors->push_back(spec::ErrorAt(
          yaml, absl::StrCat("vms.", name, ".translation"),
          absl::StrCat("node '", n.agent_id, "' cannot run nested translation: it lacks ",
                       absl::StrJoin(missing, ", "), "; or use translation: shadow")));
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
  CheckKvm(yaml, spec, nodes, &errors);
  CheckLibvirt(yaml, spec, nodes, &errors);
  CheckSriov(yaml, spec, nodes, &errors);
  CheckNested(yaml, spec, nodes, &errors);
  return errors;
}

}  // namespace iommuvm::scheduler
