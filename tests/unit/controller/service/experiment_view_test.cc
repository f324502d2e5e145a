// An experiment as the API shows it at any size: runs in pages that add up
// to every run once, one run by index with all its evidence, and a watch's
// deltas (the runs active at first, then only what changed).
#include "controller/service/experiment_view.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/unit/controller/scheduler/scheduler_fixture.h"

namespace iommuvm::scheduler {
namespace {

using ::iommuvm::testing::IsOk;
using ::iommuvm::testing::StatusIs;
using ::testing::HasSubstr;

class ExperimentViewTest : public SchedulerTest {
 protected:
  // kSpec with `n` repetitions: n runs.
  int64_t SubmitRuns(int n) {
    std::string yaml = kSpec;
    yaml.replace(yaml.find("repetitions: 1"), 14, "repetitions: " + std::to_string(n));
    auto r = scheduler_->Submit(yaml);
    EXPECT_THAT(r, IsOk());
    EXPECT_TRUE(r->errors.empty()) << r->errors.front().message;
    return r->experiment_id;
  }
  absl::StatusOr<v1::Experiment> Get(int64_t id, uint32_t page_size = 0,
                                     const std::string& token = "") {
    v1::GetExperimentRequest req;
    req.set_experiment_id(id);
    req.set_page_size(page_size);
    req.set_page_token(token);
    return service::LoadExperiment(store_.get(), scheduler_.get(), req);
  }
};

TEST_F(ExperimentViewTest, PagesHoldEveryRunOnceInIndexOrder) {
  int64_t id = SubmitRuns(2345);
  std::vector<uint32_t> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = Get(id, 0, token);
    ASSERT_THAT(page, IsOk());
    // The counts come with the first page; later pages are only runs.
    EXPECT_EQ(page->runs_total(), token.empty() ? 2345u : 0u);
    EXPECT_LE(page->runs_size(), static_cast<int>(service::kDefaultPageSize));
    for (const auto& r : page->runs()) seen.push_back(r.index());
    token = page->next_page_token();
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 2345u);
  for (uint32_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i);

  // A page that ends exactly at the last run says so.
  auto exact = Get(id, 2345);
  ASSERT_THAT(exact, IsOk());
  EXPECT_EQ(exact->runs_size(), 2345);
  EXPECT_EQ(exact->next_page_token(), "");
  // Sizes are capped, and a made-up token is refused with what to pass.
  EXPECT_EQ(Get(id, 7)->runs_size(), 7);
  EXPECT_THAT(Get(id, 0, "page-two"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("next_page_token")));
}

TEST_F(ExperimentViewTest, ARunAskedForByIndexCarriesAllItsEvidence) {
  int64_t id = SubmitRuns(3);
  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  // In a page: what `status` shows of the evidence, not the inventory.
  auto page = Get(id);
  ASSERT_THAT(page, IsOk());
  const v1::Run& first = page->runs(0);
  EXPECT_EQ(first.evidence().at("verify.detected"), "lazy");
  EXPECT_FALSE(first.evidence().count("server.inventory"));
  // By index: everything, for `diff-env`.
  v1::GetExperimentRequest req;
  req.set_experiment_id(id);
  req.add_run_indexes(first.index());
  auto one = service::LoadExperiment(store_.get(), scheduler_.get(), req);
  ASSERT_THAT(one, IsOk());
  ASSERT_EQ(one->runs_size(), 1);
  EXPECT_TRUE(one->runs(0).evidence().count("server.inventory"));
  EXPECT_EQ(one->runs(0).evidence().at("verify.detected"), "lazy");
  req.set_run_indexes(0, 3);
  EXPECT_THAT(service::LoadExperiment(store_.get(), scheduler_.get(), req),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("has no run 3")));
}

TEST_F(ExperimentViewTest, AWatchSendsTheActiveRunsThenOnlyWhatChanged) {
  int64_t id = SubmitRuns(500);
  auto idle = service::LoadExperimentChanges(store_.get(), scheduler_.get(), id, 0);
  ASSERT_THAT(idle, IsOk());
  EXPECT_EQ(idle->runs_size(), 0);  // nothing active: no runs, only counts
  EXPECT_EQ(idle->runs_total(), 500u);

  Register("srv", v1::ROLE_SERVER);
  Register("cli", v1::ROLE_CLIENT);
  TickAndVerify();
  auto first = service::LoadExperimentChanges(store_.get(), scheduler_.get(), id, 0);
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->runs_size(), 1);
  EXPECT_EQ(first->runs(0).state(), v1::RUN_STATE_ACTIVE);
  EXPECT_EQ(first->runs_active(), 1u);
  uint32_t active = first->runs(0).index();

  // Nothing changed since: no runs.
  auto none = service::LoadExperimentChanges(store_.get(), scheduler_.get(), id, first->change());
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(none->runs_size(), 0);

  // The run finishes: it, and the next one started, are all that come.
  EXPECT_EQ(RunToCompletion("srv", "cli"), static_cast<int>(active));
  TickAndVerify();
  auto next = service::LoadExperimentChanges(store_.get(), scheduler_.get(), id, first->change());
  ASSERT_THAT(next, IsOk());
  std::set<uint32_t> changed;
  for (const auto& r : next->runs()) changed.insert(r.index());
  EXPECT_TRUE(changed.count(active));
  EXPECT_LE(changed.size(), 2u);
  EXPECT_EQ(next->runs_succeeded(), 1u);
  for (const auto& r : next->runs()) {
    if (r.index() == active) {
      EXPECT_EQ(r.state(), v1::RUN_STATE_SUCCEEDED);
    }
  }
}

}  // namespace
}  // namespace iommuvm::scheduler
