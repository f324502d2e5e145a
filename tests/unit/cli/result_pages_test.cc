// FetchResultPages against an in-process controller that serves only
// GetResults: later pages are asked for two at a time and may arrive out
// of order, yet each is handed over in page order; a page that fails
// fails the command and hands over nothing after it.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/command_support.h"

namespace iommuvm::cli {
namespace {

// Pages of one row each: page p (0 the first) holds run p. The first
// lists `pages - 1` tokens ("1".."pages-1").
class PagedController final : public v1::ControllerService::Service {
 public:
  PagedController(int pages, int slow_page, int failing_page, bool lists_tokens = true)
      : pages_(pages),
        slow_page_(slow_page),
        failing_page_(failing_page),
        lists_tokens_(lists_tokens) {}

  grpc::Status GetResults(grpc::ServerContext*, const v1::GetResultsRequest* req,
                          v1::GetResultsResponse* resp) override {
    int page = 0;
    if (!req->page_token().empty() && !absl::SimpleAtoi(req->page_token(), &page)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad token");
    }
    if (page == slow_page_) std::this_thread::sleep_for(std::chrono::milliseconds(150));
    if (page == failing_page_) {
      return grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("page ", page, " broke"));
    }
    resp->add_rows()->set_run_index(static_cast<uint32_t>(page));
    if (page == 0 && lists_tokens_) {
      for (int p = 1; p < pages_; ++p) resp->add_page_tokens(absl::StrCat(p));
    }
    if (page + 1 < pages_) resp->set_next_page_token(absl::StrCat(page + 1));
    return grpc::Status::OK;
  }

 private:
  const int pages_, slow_page_, failing_page_;
  const bool lists_tokens_;  // false: a controller from before page_tokens
};

class ResultPagesTest : public ::testing::Test {
 protected:
  void Serve(PagedController* controller) {
    grpc::ServerBuilder builder;
    builder.RegisterService(controller);
    server_ = builder.BuildAndStart();
    stub_ = v1::ControllerService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::ControllerService::StubInterface> stub_;
  std::ostringstream out_, err_;
  Context ctx_{out_, err_, nullptr, false};
};

TEST_F(ResultPagesTest, PagesThatArriveOutOfOrderAreHandedOverInOrder) {
  PagedController controller(/*pages=*/6, /*slow_page=*/1, /*failing_page=*/-1);
  Serve(&controller);
  std::vector<uint32_t> seen;
  google::protobuf::Arena arena;
  auto pages = FetchResultPages(ctx_, stub_.get(), "in-process", 1, &arena,
                                [&](v1::GetResultsResponse& page) {
                                  for (const auto& row : page.rows())
                                    seen.push_back(row.run_index());
                                });
  ASSERT_TRUE(pages.has_value()) << err_.str();
  EXPECT_EQ(seen, (std::vector<uint32_t>{0, 1, 2, 3, 4, 5}));
  ASSERT_EQ(pages->size(), 6u);
  for (uint32_t p = 0; p < 6; ++p) EXPECT_EQ((*pages)[p]->rows(0).run_index(), p);
}

TEST_F(ResultPagesTest, AFailedPageFailsAllAndNothingAfterItIsHandedOver) {
  PagedController controller(/*pages=*/8, /*slow_page=*/2, /*failing_page=*/3);
  Serve(&controller);
  std::vector<uint32_t> seen;
  auto pages = FetchResultPages(ctx_, stub_.get(), "in-process", 1, /*arena=*/nullptr,
                                [&](v1::GetResultsResponse& page) {
                                  for (const auto& row : page.rows())
                                    seen.push_back(row.run_index());
                                });
  EXPECT_FALSE(pages.has_value());
  EXPECT_EQ(seen, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_NE(err_.str().find("page 3 broke"), std::string::npos) << err_.str();
}

TEST_F(ResultPagesTest, AControllerThatListsNoTokensIsReadOnePageAfterAnother) {
  PagedController controller(/*pages=*/5, /*slow_page=*/-1, /*failing_page=*/3,
                             /*lists_tokens=*/false);
  Serve(&controller);
  std::vector<uint32_t> seen;
  auto pages = FetchResultPages(ctx_, stub_.get(), "in-process", 1, /*arena=*/nullptr,
                                [&](v1::GetResultsResponse& page) {
                                  for (const auto& row : page.rows())
                                    seen.push_back(row.run_index());
                                });
  EXPECT_FALSE(pages.has_value());
  EXPECT_EQ(seen, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_NE(err_.str().find("page 3 broke"), std::string::npos) << err_.str();

  PagedController whole(/*pages=*/5, /*slow_page=*/-1, /*failing_page=*/-1,
                        /*lists_tokens=*/false);
  server_->Shutdown();
  Serve(&whole);
  seen.clear();
  google::protobuf::Arena arena;
  pages = FetchResultPages(ctx_, stub_.get(), "in-process", 1, &arena,
                           [&](v1::GetResultsResponse& page) {
                             for (const auto& row : page.rows()) seen.push_back(row.run_index());
                           });
  ASSERT_TRUE(pages.has_value()) << err_.str();
  EXPECT_EQ(seen, (std::vector<uint32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(pages->size(), 5u);
}

TEST_F(ResultPagesTest, AFailedFirstPageHandsOverNothing) {
  PagedController controller(/*pages=*/3, /*slow_page=*/-1, /*failing_page=*/0);
  Serve(&controller);
  int handed = 0;
  auto pages = FetchResultPages(ctx_, stub_.get(), "in-process", 1, /*arena=*/nullptr,
                                [&](v1::GetResultsResponse&) { ++handed; });
  EXPECT_FALSE(pages.has_value());
  EXPECT_EQ(handed, 0);
  EXPECT_NE(err_.str().find("page 0 broke"), std::string::npos) << err_.str();
}

}  // namespace
}  // namespace iommuvm::cli
