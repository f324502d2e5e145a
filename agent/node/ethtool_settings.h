#pragma once
// Parses what `ethtool -l/-g/-a/-k DEV` print, as ethtool writes it in both
// of its implementations (read from ethtool's source): the netlink one
// (ethtool ≥ 5.6 on kernels ≥ 5.6: netlink/channels.c, rings.c, pause.c,
// features.c) prints "n/a" for a parameter the driver lacks; the ioctl one
// (ethtool 5.4 of Ubuntu 20.04, or older kernels: ethtool.c dump_channels,
// dump_ring, dump_pause) prints 0. Both are read as absent.
//
//   Channel parameters for eth1:        Ring parameters for eth1:
//   Pre-set maximums:                   Pre-set maximums:
//   RX:             n/a                 RX:             8192
//   TX:             n/a                 RX Mini:        n/a
//   Other:          1                   ...
//   Combined:       63                  Current hardware settings:
//   Current hardware settings:          RX:             1024
//   ...                                 TX:             1024
//
// Newer versions add lines ("RX Buf Len", "CQE Size", "TX Push", "RX
// negotiated") that are kept by label and otherwise ignored.

#include <cstdint>
#include <map>
#include <string>

namespace iommuvm::agent {

// -l and -g: the maximums and the current settings by label ("RX", "TX",
// "Combined", "RX Jumbo", ...), supported ones only.
struct EthtoolLimits {
  std::map<std::string, uint32_t> max;
  std::map<std::string, uint32_t> current;
};
EthtoolLimits ParseEthtoolLimits(const std::string& text);

// -a: "Autonegotiate", "RX", "TX" (and any other "Label: on|off").
std::map<std::string, bool> ParseEthtoolPause(const std::string& text);

// -k: each feature's state; `fixed` when the driver cannot change it.
struct EthtoolFeature {
  bool on = false;
  bool fixed = false;
};
std::map<std::string, EthtoolFeature> ParseEthtoolFeatures(const std::string& text);

// The -k feature an offload name of the spec means (tso, gro, lro); "" if
// unknown.
std::string EthtoolFeatureName(const std::string& offload);

}  // namespace iommuvm::agent
