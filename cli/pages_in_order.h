#pragma once
// The pages after the first of a paged reply (results, an experiment's
// runs). When the first page lists their tokens they are asked for two at
// a time: the controller reads them side by side while this process
// hands over, in page order, those that arrived. From a controller that
// lists none, one after another by next_page_token.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace iommuvm::cli {

template <typename Page>
struct PagesInOrder {
  std::vector<Page*> pages;  // every page made (null: never asked for), the caller's
  grpc::Status status;       // the first failure in page order
};

// Every page after `first` (read before any page is handed over: the
// caller may grow it in `on_page`), `fetch(token, page)` filling `page`
// (made by `make`); each handed to `on_page` on this thread in page order
// as soon as it and every page before it arrived. After a failure no page
// after it is handed over and no more are asked for.
template <typename Page>
PagesInOrder<Page> FetchLaterPages(
    const Page& first, const std::function<Page*()>& make,
    const std::function<grpc::Status(const std::string&, Page*)>& fetch,
    const std::function<void(Page&)>& on_page) {
  PagesInOrder<Page> out;
  const std::vector<std::string> tokens(first.page_tokens().begin(), first.page_tokens().end());
  if (tokens.empty()) {
    for (std::string token = first.next_page_token(); !token.empty();) {
      Page* page = out.pages.emplace_back(make());
      out.status = fetch(token, page);
      if (!out.status.ok()) break;
      on_page(*page);
      token = page->next_page_token();
    }
    return out;
  }
  constexpr int kPagesInFlight = 2;
  const size_t count = tokens.size();
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
      grpc::Status s = fetch(tokens[i], out.pages[i]);
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
