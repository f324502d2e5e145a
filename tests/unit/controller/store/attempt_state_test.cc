
#include "controller/store/attempt_state.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace iommuvm::store {
namespace {

using S = AttemptState;

// The design's edges, written out independently of the implementation.
const std::set<std::pair<S, S>> kForward = {
    {S::kPending, S::kAssigned},
    {S::kAssigned, S::kConfiguringBoot},
    {S::kAssigned, S::kVerifying},
    {S::kConfiguringBoot, S::kRebooting},
    {S::kConfiguringBoot, S::kVerifying},
    {S::kRebooting, S::kVerifying},
    {S::kVerifying, S::kPreparing},
    {S::kPreparing, S::kRunning},
    {S::kRunning, S::kCollecting},
    {S::kCollecting, S::kSucceeded},
    {S::kVerifying, S::kLaunchingVm},
    {S::kLaunchingVm, S::kPreparing},
    // nodes.client_iommu: the client rebooted into its mode, the server switches next.
    {S::kRebooting, S::kConfiguringBoot},
};
const std::set<S> kTerminal = {S::kSucceeded, S::kFailed, S::kCancelled, S::kLost};
const std::set<S> kFailureTargets = {S::kFailed, S::kCancelled, S::kLost};

TEST(AttemptStateTest, EveryPairIsLegalExactlyWhenTheDesignSaysSo) {
  int legal = 0;
  for (S from : kAllAttemptStates) {
    for (S to : kAllAttemptStates) {
      bool expected =
          !kTerminal.count(from) && (kForward.count({from, to}) || kFailureTargets.count(to));
      EXPECT_EQ(IsLegalTransition(from, to), expected)
          << AttemptStateName(from) << " -> " << AttemptStateName(to);
      EXPECT_EQ(CheckTransition(from, to).ok(), expected);
      legal += expected;
    }
  }
  // 13 forward edges + 9 non-terminal states x 3 failure targets.
  EXPECT_EQ(legal, 13 + 9 * 3);
}

TEST(AttemptStateTest, TerminalStates) {
  for (S s : kAllAttemptStates) EXPECT_EQ(IsTerminal(s), kTerminal.count(s) == 1);
}

TEST(AttemptStateTest, NamesRoundTrip) {
  std::set<std::string> names;
  for (S s : kAllAttemptStates) {
    std::string name(AttemptStateName(s));
    names.insert(name);
    EXPECT_EQ(ParseAttemptState(name), s);
  }
  EXPECT_EQ(names.size(), 13u);
  EXPECT_FALSE(ParseAttemptState("running").has_value());
}

TEST(AttemptStateTest, IllegalTransitionMessageNamesBothStates) {
  absl::Status s = CheckTransition(S::kSucceeded, S::kRunning);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("SUCCEEDED -> RUNNING"), absl::string_view::npos);
}

}  // namespace
}  // namespace iommuvm::store
