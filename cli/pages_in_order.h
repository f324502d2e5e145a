#pragma once
// Later pages of a paged reply (results, an experiment's runs), asked for
// two at a time once the first page has listed their tokens: the
// controller reads them side by side while this process hands over, in
// page order, those that arrived.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace iommuvm::cli {

template <typename Page>
struct PagesInOrder {
  std::vector<Page*> pages;  // every page asked for (null: never asked), the caller's
  grpc::Status status;       // the first failure in page order
};

// Asks for pages 0..count-1, `fetch(i, page)` filling `page` (made by
// `make`), two at a time; hands each to `on_page` on this thread in page
// order as soon as it and every page before it arrived. After a failure
// no page after it is handed over and no more are asked for.
template <typename Page>
PagesInOrder<Page> FetchPagesInOrder(size_t count, const std::function<Page*()>& make,
                                     const std::function<grpc::Status(size_t, Page*)>& fetch,
                                     const std::function<void(Page&)>& on_page) {
  constexpr int kPagesInFlight = 2;
  PagesInOrder<Page> out;
  out.pages.assign(count, nullptr);
  std::vector<grpc::Status> status(count);
  std::vector<bool> arrived(count, false);  // under mu
  std::mutex mu;
  std::condition_variable arrival;
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  auto worker = [&] {
    // Pages are taken in order, so every page before a failed one was
    // taken before it and arrives.
    for (size_t i = next++; i < count && !stop; i = next++) {
      out.pages[i] = make();
      grpc::Status s = fetch(i, out.pages[i]);
      if (!s.ok()) stop = true;
      std::lock_guard lock(mu);
      status[i] = std::move(s);
      arrived[i] = true;
      arrival.notify_all();
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < kPagesInFlight; ++w) workers.emplace_back(worker);
  for (size_t i = 0; i < count; ++i) {
    {
      std::unique_lock lock(mu);
      arrival.wait(lock, [&] { return arrived[i]; });
    }
    if (!status[i].ok()) {
      out.status = status[i];
      stop = true;
      break;
    }
    on_page(*out.pages[i]);
  }
  for (std::thread& t : workers) t.join();
  return out;
}

}  // namespace iommuvm::cli
