#include "common/sqlite_readers.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/support/status_matchers.h"

namespace iommuvm::sqlite {
namespace {

using ::iommuvm::testing::IsOk;
using ::iommuvm::testing::IsOkAndHolds;

class ReadersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("readers_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "r.db").string();
    auto db = Database::Open(path_);
    ASSERT_THAT(db, IsOk());
    writer_ = std::move(*db);
    ASSERT_THAT(writer_->EnableWal(), IsOk());
    ASSERT_THAT(writer_->Exec("CREATE TABLE t (v INTEGER)"), IsOk());
    ASSERT_THAT(writer_->Exec("INSERT INTO t VALUES (1), (2), (3)"), IsOk());
  }
  void TearDown() override {
    writer_.reset();
    std::filesystem::remove_all(dir_);
  }

  static absl::StatusOr<int64_t> Count(Database& db) {
    return db.QueryInt("SELECT COUNT(*) FROM t");
  }

  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<Database> writer_;
};

TEST_F(ReadersTest, AReaderSeesWhatWasCommittedAndNotAnOpenTransaction) {
  Readers readers(path_, 2);
  {
    Transaction tx(*writer_);
    ASSERT_THAT(tx.status(), IsOk());
    ASSERT_THAT(writer_->Exec("INSERT INTO t VALUES (4)"), IsOk());
    auto reader = readers.Borrow();
    ASSERT_THAT(reader, IsOk());
    // Not waiting for the writer, and not seeing its uncommitted row.
    EXPECT_THAT(Count(**reader), IsOkAndHolds(3));
    ASSERT_THAT(tx.Commit(), IsOk());
  }
  auto reader = readers.Borrow();
  ASSERT_THAT(reader, IsOk());
  EXPECT_THAT(Count(**reader), IsOkAndHolds(4));
}

TEST_F(ReadersTest, AReaderCannotWrite) {
  Readers readers(path_, 1);
  auto reader = readers.Borrow();
  ASSERT_THAT(reader, IsOk());
  EXPECT_FALSE((*reader)->Exec("INSERT INTO t VALUES (9)").ok());
}

TEST_F(ReadersTest, AStatementLeftMidRowsDoesNotLeaveTheNextBorrowerAnOldSnapshot) {
  Readers readers(path_, 1);
  {
    auto reader = readers.Borrow();
    ASSERT_THAT(reader, IsOk());
    auto st = (*reader)->Cached("SELECT v FROM t ORDER BY v");
    ASSERT_THAT(st, IsOk());
    ASSERT_THAT((*st)->Step(), IsOkAndHolds(true));  // one row of three read
  }
  ASSERT_THAT(writer_->Exec("INSERT INTO t VALUES (4)"), IsOk());
  auto reader = readers.Borrow();  // the same connection: the pool holds one
  ASSERT_THAT(reader, IsOk());
  EXPECT_THAT(Count(**reader), IsOkAndHolds(4));
}

TEST_F(ReadersTest, NoMoreThanMaxAreOpenAndABorrowerWaitsForOneGivenBack) {
  Readers readers(path_, 2);
  auto first = readers.Borrow();
  auto second = readers.Borrow();
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(readers.open(), 2u);
  std::atomic<bool> got{false};
  std::thread third([&] {
    auto lease = readers.Borrow();
    EXPECT_THAT(lease, IsOk());
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(got);
  { auto done = std::move(*first); }  // given back
  third.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(readers.open(), 2u);
}

TEST_F(ReadersTest, AFileThatCannotBeOpenedIsAnErrorAndFreesItsPlace) {
  Readers readers((dir_ / "missing.db").string(), 1);
  EXPECT_FALSE(readers.Borrow().ok());
  EXPECT_EQ(readers.open(), 0u);
  EXPECT_FALSE(readers.Borrow().ok());  // not waiting for a place never taken
}

}  // namespace
}  // namespace iommuvm::sqlite
