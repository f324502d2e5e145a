#include "results/statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace iommuvm::results {
namespace {

// Continued fraction of the regularized incomplete beta function (modified
// Lentz), valid for x < (a + 1) / (a + b + 2).
double BetaContinuedFraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEps = 1e-15;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::abs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 300; ++m) {
    double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    c = 1 + aa / c;
    if (std::abs(d) < kTiny) d = kTiny;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    c = 1 + aa / c;
    if (std::abs(d) < kTiny) d = kTiny;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < kEps) break;
  }
  return h;
}

// I_x(a, b).
double RegularizedBeta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                          b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * BetaContinuedFraction(a, b, x) / a;
  return 1 - front * BetaContinuedFraction(b, a, 1 - x) / b;
}

// P(T <= t) for Student's t with df degrees of freedom.
double StudentTCdf(double t, double df) {
  double tail = 0.5 * RegularizedBeta(df / 2, 0.5, df / (df + t * t));
  return t >= 0 ? 1 - tail : tail;
}

}  // namespace

double StudentTQuantile(double p, double df) {
  // The CDF is monotone: bisect on a bracket wide enough for df >= 1.
  double lo = -1e4, hi = 1e4;
  for (int i = 0; i < 200 && hi - lo > 1e-12; ++i) {
    double mid = (lo + hi) / 2;
    (StudentTCdf(mid, df) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

Summary Summarize(const std::vector<double>& values, double confidence) {
  Summary s;
  s.n = values.size();
  if (s.n == 0) return s;
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(s.n);
  if (s.n < 2) return s;
  double ss = 0;
  for (double v : values) ss += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(ss / static_cast<double>(s.n - 1));
  double df = static_cast<double>(s.n - 1);
  s.ci_half =
      StudentTQuantile(0.5 + confidence / 2, df) * s.sd / std::sqrt(static_cast<double>(s.n));
  return s;
}

Change RelativeChange(const Summary& value, const Summary& baseline, double confidence) {
  Change c;
  if (baseline.mean == 0) return c;
  double ratio = value.mean / baseline.mean;
  c.percent = (ratio - 1) * 100;
  if (value.n < 2 || baseline.n < 2 || value.mean <= 0 || baseline.mean <= 0) return c;
  // Relative squared standard errors of the two means: by the delta method
  // their sum is the variance of log(ratio). The interval is taken on the
  // log scale, so it is asymmetric and never reaches -100%.
  double ra = value.sd * value.sd / static_cast<double>(value.n) / (value.mean * value.mean);
  double rb =
      baseline.sd * baseline.sd / static_cast<double>(baseline.n) / (baseline.mean * baseline.mean);
  double se = std::sqrt(ra + rb);
  // Welch–Satterthwaite degrees of freedom of the two relative variances.
  double df = static_cast<double>(value.n + baseline.n - 2);
  if (ra + rb > 0) {
    df = (ra + rb) * (ra + rb) /
         (ra * ra / static_cast<double>(value.n - 1) +
          rb * rb / static_cast<double>(baseline.n - 1));
  }
  double t = StudentTQuantile(0.5 + confidence / 2, std::max(1.0, df));
  c.low = (ratio * std::exp(-t * se) - 1) * 100;
  c.high = (ratio * std::exp(t * se) - 1) * 100;
  return c;
}

}  // namespace iommuvm::results
