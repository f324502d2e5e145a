
#include "common/units.h"

#include <gtest/gtest.h>

#include "common/head_and_tail.h"

namespace iommuvm {
namespace {

TEST(UnitsTest, Durations) {
  EXPECT_EQ(*ParseDuration("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseDuration("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseDuration("1.5s"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseDuration("5m"), absl::Minutes(5));
  EXPECT_EQ(*ParseDuration("2h"), absl::Hours(2));
  for (const char* bad : {"30", "s", "", "3 s", "30sec", "-1s", "1e3s"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
  EXPECT_NE(ParseDuration("30").status().message().find("no unit"), absl::string_view::npos);
}

TEST(UnitsTest, Sizes) {
  EXPECT_EQ(*ParseSize("64"), 64u);
  EXPECT_EQ(*ParseSize("4KiB"), 4096u);
  EXPECT_EQ(*ParseSize("16GiB"), 16ull << 30);
  EXPECT_EQ(*ParseSize("1MB"), 1000000u);
  for (const char* bad : {"4kib", "4 KiB", "KiB", "1.5GiB", "99999999999999999999"}) {
    EXPECT_FALSE(ParseSize(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseSize("20000000TiB").ok());
}

TEST(UnitsTest, Rates) {
  EXPECT_EQ(*ParseRate("50000/s"), 50000u);
  EXPECT_EQ(*ParseRate("50k/s"), 50000u);
  EXPECT_EQ(*ParseRate("1.5M/s"), 1500000u);
  for (const char* bad : {"50k", "50K/s", "k/s", "/s", "0/s", "50 k/s", "-5/s", "5k/min"}) {
    EXPECT_FALSE(ParseRate(bad).ok()) << bad;
  }
  EXPECT_NE(ParseRate("50K/s").status().message().find("allowed: k, M"), absl::string_view::npos);
  for (uint64_t r : {1ull, 999ull, 50000ull, 2000000ull, 1500ull}) {
    EXPECT_EQ(*ParseRate(SpecRate(r)), r);
  }
}

TEST(UnitsTest, SpecDurationRoundTrips) {
  for (absl::Duration d :
       {absl::Milliseconds(250), absl::Seconds(90), absl::Minutes(5), absl::Hours(3)}) {
    EXPECT_EQ(*ParseDuration(SpecDuration(d)), d);
  }
}

}  // namespace
}  // namespace iommuvm
