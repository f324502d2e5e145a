#include "spec/host_parser.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spec/workload_parser.h"
#include "spec/yaml_reader.h"

namespace iommuvm::spec {
namespace {

const std::vector<std::string> kGovernors = {"performance", "powersave",    "schedutil",
                                             "ondemand",    "conservative", "userspace"};
const std::vector<std::string> kOffloads = {"tso", "gro", "lro"};

void ReadNic(MapReader& parent, SpecErrors* errors, v1::HostSettings* s) {
  YAML::Node n = parent.Child("nic");
  if (!n.IsDefined()) return;
  MapReader r(n, parent.ChildPath("nic"), errors);
  if (!r.valid()) return;
  auto u32 = [&](const char* key, uint32_t min, uint32_t max, auto set) {
    if (!r.Child(key).IsDefined()) return;
    uint32_t v = 0;
    r.UInt32(key, &v, min, max);
    set(v);
  };
  u32("mtu", 68, 65535, [&](uint32_t v) { s->set_mtu(v); });
  u32("channels", 1, 4096, [&](uint32_t v) { s->set_channels(v); });
  u32("rx_ring", 1, 1 << 20, [&](uint32_t v) { s->set_rx_ring(v); });
  u32("tx_ring", 1, 1 << 20, [&](uint32_t v) { s->set_tx_ring(v); });
  if (r.Child("pause").IsDefined()) {
    bool v = false;
    r.Bool("pause", &v);
    s->set_pause(v);
  }
  YAML::Node off = r.Child("offloads");
  if (off.IsDefined()) {
    MapReader o(off, r.ChildPath("offloads"), errors);
    if (o.valid()) {
      for (const std::string& key : kOffloads) {
        if (!o.Child(key).IsDefined()) continue;
        bool v = false;
        o.Bool(key, &v);
        (*s->mutable_offloads())[key] = v;
      }
    }
  }
  std::string irq;
  r.String("irq_affinity", &irq);
  if (!irq.empty() && irq != "auto") {
    std::string e = CheckCpuList(irq);
    if (!e.empty()) {
      r.Error(r.Child("irq_affinity"), r.ChildPath("irq_affinity"),
              absl::StrCat("expected auto or a CPU list: ", e));
    }
  }
  s->set_irq_affinity(irq);
}

void ReadSettings(MapReader& parent, const std::string& key, SpecErrors* errors,
                  v1::HostSettings* s) {
  YAML::Node n = parent.Child(key);
  if (!n.IsDefined()) return;
  MapReader r(n, parent.ChildPath(key), errors);
  if (!r.valid()) return;
  if (r.Child("governor").IsDefined()) {
    std::vector<std::string> g;
    r.StringList("governor", &g, kGovernors);
    if (g.size() == 1) s->set_governor(g[0]);
  }
  auto flag = [&](const char* k, auto set) {
    if (!r.Child(k).IsDefined()) return;
    bool v = false;
    r.Bool(k, &v);
    set(v);
  };
  flag("turbo", [&](bool v) { s->set_turbo(v); });
  flag("smt", [&](bool v) { s->set_smt(v); });
  flag("irqbalance", [&](bool v) { s->set_irqbalance(v); });
  if (r.Child("cstate_max").IsDefined()) {
    uint32_t v = 0;
    r.UInt32("cstate_max", &v, 0, 16);
    s->set_cstate_max(v);
  }
  ReadNic(r, errors, s);
}

}  // namespace

void ReadHost(const YAML::Node& node, SpecErrors* errors, HostSpec* out) {
  MapReader r(node, "host", errors);
  if (!r.valid()) return;
  bool best_effort = false;
  r.Bool("best_effort", &best_effort);
  ReadSettings(r, "server", errors, &out->server);
  ReadSettings(r, "client", errors, &out->client);
  YAML::Node nodes = r.Child("nodes");
  if (nodes.IsDefined() && !nodes.IsSequence()) {
    r.Error(nodes, "host.nodes", "expected a list of {labels, server, client}");
  } else if (nodes.IsDefined()) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      MapReader e(nodes[i], absl::StrCat("host.nodes[", i, "]"), errors);
      if (!e.valid()) continue;
      HostOverride o;
      e.StringMap("labels", &o.labels);
      if (o.labels.empty()) {
        e.Error(nodes[i], e.ChildPath("labels"), "required: the node labels this entry is for");
      }
      ReadSettings(e, "server", errors, &o.server);
      ReadSettings(e, "client", errors, &o.client);
      out->overrides.push_back(std::move(o));
    }
  }
  out->server.set_best_effort(best_effort);
  out->client.set_best_effort(best_effort);
}

std::string DescribeHostSettings(const v1::HostSettings& s) {
  std::vector<std::string> parts;
  auto on = [](bool b) { return b ? "on" : "off"; };
  if (s.has_governor()) parts.push_back(absl::StrCat("governor=", s.governor()));
  if (s.has_turbo()) parts.push_back(absl::StrCat("turbo=", on(s.turbo())));
  if (s.has_cstate_max()) parts.push_back(absl::StrCat("cstate_max=", s.cstate_max()));
  if (s.has_smt()) parts.push_back(absl::StrCat("smt=", on(s.smt())));
  if (s.has_irqbalance()) parts.push_back(absl::StrCat("irqbalance=", on(s.irqbalance())));
  if (s.has_mtu()) parts.push_back(absl::StrCat("nic.mtu=", s.mtu()));
  if (s.has_channels()) parts.push_back(absl::StrCat("nic.channels=", s.channels()));
  if (s.has_rx_ring()) parts.push_back(absl::StrCat("nic.rx_ring=", s.rx_ring()));
  if (s.has_tx_ring()) parts.push_back(absl::StrCat("nic.tx_ring=", s.tx_ring()));
  if (s.has_pause()) parts.push_back(absl::StrCat("nic.pause=", on(s.pause())));
  std::map<std::string, bool> offloads(s.offloads().begin(), s.offloads().end());
  for (const auto& [k, v] : offloads) parts.push_back(absl::StrCat("nic.", k, "=", on(v)));
  if (!s.irq_affinity().empty())
    parts.push_back(absl::StrCat("nic.irq_affinity=", s.irq_affinity()));
  return absl::StrJoin(parts, " ");
}

v1::HostSettings HostSpec::For(v1::Role role,
                               const std::map<std::string, std::string>& labels) const {
  v1::HostSettings s = role == v1::ROLE_SERVER ? server : client;
  for (const HostOverride& o : overrides) {
    bool match = true;
    for (const auto& [k, v] : o.labels) {
      auto it = labels.find(k);
      match = match && it != labels.end() && it->second == v;
    }
    if (match) s.MergeFrom(role == v1::ROLE_SERVER ? o.server : o.client);
  }
  return s;
}

}  // namespace iommuvm::spec
