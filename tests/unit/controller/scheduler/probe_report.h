#pragma once
// What an agent's probe reports (the typed outcome the scheduler reads),
// for the scheduler's tests.

#include <string>

#include "iommuvm/v1/agent.pb.h"

namespace iommuvm::scheduler {

inline v1::ProbeReport Probe(const std::string& detected, const std::string& boot_id,
                             const std::string& mismatch = "") {
  v1::ProbeReport p;
  p.set_detected(detected);
  p.set_boot_id(boot_id);
  p.set_mismatch(mismatch);
  return p;
}

}  // namespace iommuvm::scheduler
