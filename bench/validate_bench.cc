// Validating experiments/r650-full.yaml (the target: under 50 ms),
// side by side with yaml-cpp merely loading the same file as the baseline:
// the ratio is what the experiment language's checks cost on top of YAML.
// Run: build/bench/iommuvm_validate_bench
#include <benchmark/benchmark.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "spec/matrix.h"
#include "spec/spec_parser.h"

namespace iommuvm {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string& R650() {
  static const std::string* text =
      new std::string(Read(IOMMUVM_SOURCE_DIR "/experiments/r650-full.yaml"));
  return *text;
}

void BM_YamlLoadOnly(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(YAML::Load(R650()));
}
BENCHMARK(BM_YamlLoadOnly)->Unit(benchmark::kMicrosecond);

// What `iommuvm validate` does: parse, check every key, expand the matrix.
void BM_ValidateR650Full(benchmark::State& state) {
  for (auto _ : state) {
    spec::ParseResult r = spec::ParseSpec(R650());
    if (!r.spec) state.SkipWithError("r650-full.yaml does not validate");
    benchmark::DoNotOptimize(spec::ExpandMatrix(*r.spec));
  }
}
BENCHMARK(BM_ValidateR650Full)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace iommuvm

BENCHMARK_MAIN();
