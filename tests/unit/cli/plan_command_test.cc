#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli.h"

namespace iommuvm::cli {
namespace {

constexpr char kSpec[] = R"(name: plan
matrix:
  iommu: [off, strict]
  workload: [w]
repetitions: 4
workloads:
  w: {app: redis, generator: {requests: 100000}}
switch: {method: grub}
order: {repetitions_across_boots: false}
)";

class PlanCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ =
        std::filesystem::temp_directory_path() / ("plan_" + std::to_string(::getpid()) + ".yaml");
    std::ofstream(path_) << kSpec;
  }
  void TearDown() override { std::filesystem::remove(path_); }
  int Run(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    Context ctx{out_, err_, GrpcStubFactory(), false};
    return RunCli(args, ctx);
  }
  std::filesystem::path path_;
  std::ostringstream out_, err_;
};

TEST_F(PlanCommandTest, PrintsBootsSwitchesAndBound) {
  ASSERT_EQ(Run({"plan", path_.string(), "--pairs", "2", "--switch-cost", "grub=100s"}), 0)
      << err_.str();
  std::string out = out_.str();
  EXPECT_NE(out.find("8 runs on 2 pairs, 2 mode switches (grub, 100s each; 2 boot configs)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("lower bound"), std::string::npos);
}

TEST_F(PlanCommandTest, AdaptiveRepetitionsShowTheirBounds) {
  std::ofstream(path_) << std::string(kSpec).replace(
      std::string(kSpec).find("repetitions: 4"), 14,
      "repetitions: {min: 3, max: 10, until_ci_below: 2%}");
  ASSERT_EQ(Run({"plan", path_.string()}), 0) << err_.str();
  EXPECT_NE(out_.str().find("repetitions: 3 to 10 per point, added until the 95% CI is within "
                            "±2% of the mean: 6 to 20 runs"),
            std::string::npos)
      << out_.str();
  ASSERT_EQ(Run({"plan", path_.string(), "--format", "json"}), 0) << err_.str();
  EXPECT_NE(out_.str().find("\"runs\": 6,\n  \"max_runs\": 20,"), std::string::npos) << out_.str();
}

TEST_F(PlanCommandTest, JsonListsEveryBootAndTheBound) {
  ASSERT_EQ(Run({"plan", path_.string(), "--format", "json"}), 0) << err_.str();
  std::string out = out_.str();
  // On one pair: strict first, off last (sysfs could not leave off).
  EXPECT_NE(out.find("\"boots\": [{\"iommu\": \"strict\", \"instance\": 0, \"runs\": [4, 5, 6, "
                     "7]}, {\"iommu\": \"off\", \"instance\": 0, \"runs\": [0, 1, 2, 3]}]"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\"switches_by_method\": {\"grub\": 2}"), std::string::npos) << out;
  EXPECT_NE(out.find("\"lower_bound_s\": "), std::string::npos) << out;
}

TEST_F(PlanCommandTest, SysfsFallsBackForOff) {
  std::string spec = kSpec;
  spec.replace(spec.find("switch: {method: grub}"), 22,
               "switch: {method: sysfs, fallback: [kexec]}");
  std::ofstream(path_) << spec;
  ASSERT_EQ(Run({"plan", path_.string()}), 0) << err_.str();
  EXPECT_NE(out_.str().find("2 mode switches (1 kexec at 40s, 1 sysfs at 5s; 2 boot configs)"),
            std::string::npos)
      << out_.str();
}

// The default books one boot per repetition: the plan shows what that costs.
TEST_F(PlanCommandTest, EachRepetitionInItsOwnBootIsTheDefaultAndCosts) {
  std::string spec = kSpec;
  spec.replace(spec.find("order: {repetitions_across_boots: false}\n"), 41, "");
  std::ofstream(path_) << spec;
  ASSERT_EQ(Run({"plan", path_.string(), "--switch-cost", "grub=100s"}), 0) << err_.str();
  EXPECT_NE(out_.str().find("8 runs on 1 pairs, 8 mode switches (grub, 100s each; 8 boot configs)"),
            std::string::npos)
      << out_.str();
  // sysfs alone cannot give each repetition a boot of its own.
  spec.replace(spec.find("switch: {method: grub}"), 22, "switch: sysfs");
  std::ofstream(path_) << spec;
  EXPECT_EQ(Run({"plan", path_.string()}), 1);
  EXPECT_NE(err_.str().find("needs a switch method that reboots"), std::string::npos) << err_.str();
}

TEST_F(PlanCommandTest, BadOptionsAreUsageErrors) {
  EXPECT_EQ(Run({"plan", path_.string(), "--pairs", "0"}), 2);
  EXPECT_EQ(Run({"plan", path_.string(), "--switch-cost", "pxe=5s"}), 2);
  EXPECT_NE(err_.str().find("METHOD=DURATION"), std::string::npos);
  EXPECT_EQ(Run({"plan"}), 2);
  EXPECT_EQ(Run({"plan", "/nonexistent.yaml"}), 1);
}

}  // namespace
}  // namespace iommuvm::cli
