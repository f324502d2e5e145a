#include "controller/store/attempt_state.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace iommuvm::store {
namespace {
using S = AttemptState;

// The forward edges; the failure edges (to FAILED, CANCELLED, LOST) exist
// from every non-terminal state and are not listed.
constexpr std::pair<S, S> kForwardEdges[] = {
    {S::kPending, S::kAssigned},
    {S::kAssigned, S::kConfiguringBoot},
    {S::kAssigned, S::kVerifying},  // node already in the right boot config
    {S::kConfiguringBoot, S::kRebooting},
    {S::kConfiguringBoot, S::kVerifying},  // switched without reboot (sysfs)
    {S::kRebooting, S::kVerifying},
    {S::kRebooting, S::kConfiguringBoot},  // the client rebooted; now the server switches
    {S::kVerifying, S::kPreparing},
    {S::kVerifying, S::kLaunchingVm},  // a VM run: the host verified, its guest boots
    {S::kLaunchingVm, S::kPreparing},
    {S::kPreparing, S::kRunning},
    {S::kRunning, S::kCollecting},
    {S::kCollecting, S::kSucceeded},
};
}  // namespace

bool IsTerminal(AttemptState s) {
  switch (s) {
    case S::kSucceeded:
    case S::kFailed:
    case S::kCancelled:
    case S::kLost:
      return true;
    case S::kPending:
    case S::kAssigned:
    case S::kConfiguringBoot:
    case S::kRebooting:
    case S::kVerifying:
    case S::kLaunchingVm:
    case S::kPreparing:
    case S::kRunning:
    case S::kCollecting:
      return false;
  }
  return false;  // unreachable: the switch covers every state
}

bool IsLegalTransition(AttemptState from, AttemptState to) {
  if (IsTerminal(from)) return false;
  if (to == S::kFailed || to == S::kCancelled || to == S::kLost) return true;
  for (const auto& [a, b] : kForwardEdges) {
    if (a == from && b == to) return true;
  }
  return false;
}

absl::Status CheckTransition(AttemptState from, AttemptState to) {
  if (IsLegalTransition(from, to)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "illegal attempt transition ", AttemptStateName(from), " -> ", AttemptStateName(to)));
}

}  // namespace iommuvm::store
