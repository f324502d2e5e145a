#pragma once
// Which network interface carries the agent's connection to the
// controller — the one node control must never take away (VFIO) — found
// by asking the kernel which local address routes to the controller.

#include <string>

namespace iommuvm::agent {

// The interface name ("eno1") used to reach `controller_address`
// ("host:port"), or "" when it cannot be told (e.g. loopback).
std::string ControlInterface(const std::string& controller_address);

}  // namespace iommuvm::agent
