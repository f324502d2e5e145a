#include "proto/state_names.h"

#include <gtest/gtest.h>

namespace iommuvm {
namespace {

TEST(StateNamesTest, ShortNamesRoundTripForEveryValue) {
  EXPECT_EQ(StateName(v1::RUN_STATE_SUCCEEDED), "SUCCEEDED");
  EXPECT_EQ(StateName(v1::ATTEMPT_STATE_CONFIGURING_BOOT), "CONFIGURING_BOOT");
  EXPECT_EQ(StateName(v1::EXPERIMENT_STATE_QUEUED), "QUEUED");
  EXPECT_EQ(StateName(v1::NODE_HEALTH_BUSY), "BUSY");
  const auto* d = google::protobuf::GetEnumDescriptor<v1::AttemptState>();
  for (int i = 1; i < d->value_count(); ++i) {
    auto value = static_cast<v1::AttemptState>(d->value(i)->number());
    EXPECT_EQ(ParseStateName<v1::AttemptState>(StateName(value)), value) << d->value(i)->name();
  }
}

TEST(StateNamesTest, UnspecifiedAndUnknownAreNotStates) {
  EXPECT_EQ(ParseStateName<v1::RunState>("UNSPECIFIED"), std::nullopt);
  EXPECT_EQ(ParseStateName<v1::RunState>("RUN_STATE_ACTIVE"), std::nullopt);
  EXPECT_EQ(ParseStateName<v1::RunState>("BUSY"), std::nullopt);
  EXPECT_EQ(StateName(static_cast<v1::RunState>(99)), "UNKNOWN");
}

}  // namespace
}  // namespace iommuvm
