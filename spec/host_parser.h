#pragma once
// Reads the spec's `host:` section: the environment each role's nodes must
// be in (CPU frequency governor, turbo, C-state limit, SMT, irqbalance, and
// the data NIC's MTU, channels, rings, pause frames, offloads and IRQ
// affinity), with entries that change it on nodes carrying some labels:
//
//   host:
//     best_effort: false
//     server: {governor: performance, turbo: false, smt: false,
//              nic: {mtu: 4000, channels: 8, rx_ring: 4096, pause: true,
//                    offloads: {lro: false}, irq_affinity: auto}}
//     client: {smt: false}
//     nodes:
//       - labels: {hw: c6525}
//         server: {cstate_max: 1}

#include <yaml-cpp/yaml.h>

#include "spec/spec.h"
#include "spec/spec_error.h"

namespace iommuvm::spec {

void ReadHost(const YAML::Node& node, SpecErrors* errors, HostSpec* out);

// "governor=performance smt=off nic.mtu=4000 ..." (empty: nothing set).
std::string DescribeHostSettings(const v1::HostSettings& s);

}  // namespace iommuvm::spec
