#pragma once
// Read-only connections to one SQLite file, lent out one thread at a time.
// Under WAL a reader never waits for the writer nor for another reader:
// pages of a big experiment are read on several cores at once, and beside
// ingest's commits, instead of one after another on the writer's
// connection and lock. A reader sees what was committed when its read
// began (a snapshot), never a writer's open transaction.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sqlite.h"

namespace iommuvm::sqlite {

class Readers {
 public:
  // At most `max` connections, opened as they are first needed.
  Readers(std::string path, size_t max);

  // A connection while it lives; it goes back to the pool after its
  // statements were reset (a statement left mid-rows would keep its read
  // transaction, and so an old snapshot, for the next borrower).
  class Lease {
   public:
    Lease(Readers* pool, std::unique_ptr<Database> db) : pool_(pool), db_(std::move(db)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Database& operator*() const { return *db_; }
    Database* operator->() const { return db_.get(); }

   private:
    Readers* pool_;
    std::unique_ptr<Database> db_;
  };

  // A free connection, a new one while fewer than `max` are open, else the
  // next one given back. An error when a new connection cannot be opened.
  absl::StatusOr<Lease> Borrow();
  size_t open() const;

 private:
  void GiveBack(std::unique_ptr<Database> db);

  const std::string path_;
  const size_t max_;
  mutable std::mutex mu_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Database>> free_;
  size_t open_ = 0;
};

}  // namespace iommuvm::sqlite
