#pragma once
// The statistics behind `iommuvm compare`: a sample's mean with a Student-t
// confidence interval, and the relative change of one mean against a
// baseline with its interval (delta method on the log of the ratio of the
// means, Welch–Satterthwaite degrees of freedom). Repetitions of a run are the samples; with one
// repetition there is no interval.

#include <optional>
#include <vector>

namespace iommuvm::results {

// The p-quantile of Student's t distribution with `df` degrees of freedom
// (df > 0, 0 < p < 1), e.g. StudentTQuantile(0.975, 4) = 2.776.
double StudentTQuantile(double p, double df);

struct Summary {
  size_t n = 0;
  double mean = 0;
  double sd = 0;  // sample standard deviation (n - 1)
  // Half-width of the confidence interval of the mean; nullopt for n < 2.
  std::optional<double> ci_half;
};

Summary Summarize(const std::vector<double>& values, double confidence = 0.95);

struct Change {
  double percent = 0;  // (mean / baseline mean - 1) * 100
  // Its confidence interval (asymmetric, above -100%); nullopt when either
  // side has n < 2 or a mean is not positive.
  std::optional<double> low;
  std::optional<double> high;
  // The interval excludes 0.
  bool significant() const { return low && high && (*low > 0 || *high < 0); }
};

Change RelativeChange(const Summary& value, const Summary& baseline, double confidence = 0.95);

}  // namespace iommuvm::results
