#include "common/sqlite_readers.h"

#include <utility>

namespace iommuvm::sqlite {

Readers::Readers(std::string path, size_t max) : path_(std::move(path)), max_(max) {}

Readers::Lease::~Lease() {
  if (db_ == nullptr) return;  // moved from
  db_->ResetCached();
  pool_->GiveBack(std::move(db_));
}

absl::StatusOr<Readers::Lease> Readers::Borrow() {
  std::unique_lock lock(mu_);
  returned_.wait(lock, [&] { return !free_.empty() || open_ < max_; });
  if (!free_.empty()) {
    std::unique_ptr<Database> db = std::move(free_.back());
    free_.pop_back();
    return Lease(this, std::move(db));
  }
  ++open_;
  lock.unlock();
  auto db =
      Database::Open(path_, /*create=*/false, /*read_only=*/true, Database::Threads::kOneAtATime);
  if (!db.ok()) {
    lock.lock();
    --open_;
    returned_.notify_one();
    return db.status();
  }
  return Lease(this, std::move(*db));
}

size_t Readers::open() const {
  std::lock_guard lock(mu_);
  return open_;
}

void Readers::GiveBack(std::unique_ptr<Database> db) {
  std::lock_guard lock(mu_);
  free_.push_back(std::move(db));
  returned_.notify_one();
}

}  // namespace iommuvm::sqlite
