#include "agent/telemetry/sampler.h"

#include "common/log.h"

namespace iommuvm::agent {

Sampler::Sampler(std::vector<std::unique_ptr<Collector>> collectors, const Clock* clock,
                 absl::Duration interval, Emit emit)
    : collectors_(std::move(collectors)), clock_(clock), interval_(interval), emit_(std::move(emit)) {
  Pass();
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, absl::ToChronoNanoseconds(interval_), [&] { return stop_; })) {
      lock.unlock();
      Pass();
      lock.lock();
    }
  });
}

Sampler::~Sampler() { Stop(); }

void Sampler::Pass() {
  std::vector<v1::MetricSample> samples;
  for (auto& c : collectors_) {
    absl::Status s = c->Collect(clock_->Now(), &samples);
    // Reported once, not every interval: the sample stream says the rest.
    if (!s.ok() && unavailable_.insert(c->name()).second) {
      Log("telemetry", "collector ", c->name(), " unavailable: ", s.message());
      v1::MetricSample gone;
      gone.set_name("telemetry_collector_unavailable");
      gone.set_timestamp_ms(absl::ToUnixMillis(clock_->Now()));
      gone.set_value(1);
      (*gone.mutable_labels())["collector"] = c->name();
      (*gone.mutable_labels())["reason"] = std::string(s.message()).substr(0, 200);
      samples.push_back(std::move(gone));
    }
  }
  if (samples.empty()) return;
  emitted_ += samples.size();
  emit_(std::move(samples));
}

uint64_t Sampler::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return emitted_;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  Pass();
  return emitted_;
}

}  // namespace iommuvm::agent
