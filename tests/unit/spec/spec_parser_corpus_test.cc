// Every spec in tests/fixtures/specs/invalid must be rejected, and its first
// error must sit at the line:column and key path listed in expected.txt.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "spec/spec_parser.h"

namespace iommuvm::spec {
namespace {

const std::string kDir = IOMMUVM_SOURCE_DIR "/tests/fixtures/specs/invalid";

struct Expectation {
  std::string file;
  std::string position;  // "LINE:COLUMN"
  std::string key_path;  // "-" for none
  std::string text;
};

std::vector<Expectation> LoadExpectations() {
  std::ifstream in(kDir + "/expected.txt");
  std::vector<Expectation> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    Expectation e;
    std::istringstream words(line.substr(0, line.find(" | ")));
    words >> e.file >> e.position >> e.key_path;
    e.text = line.substr(line.find(" | ") + 3);
    out.push_back(e);
  }
  return out;
}

TEST(SpecCorpusTest, EveryInvalidSpecFailsAtTheListedPlace) {
  std::vector<Expectation> expectations = LoadExpectations();
  ASSERT_GE(expectations.size(), 30u);
  for (const Expectation& e : expectations) {
    std::ifstream in(kDir + "/" + e.file);
    ASSERT_TRUE(in) << e.file;
    std::stringstream text;
    text << in.rdbuf();
    ParseResult r = ParseSpec(text.str());
    ASSERT_FALSE(r.spec) << e.file << " was accepted";
    ASSERT_FALSE(r.errors.empty()) << e.file;
    const SpecError& first = r.errors.front();
    EXPECT_EQ(absl::StrCat(first.line, ":", first.column), e.position) << e.file;
    EXPECT_EQ(first.key_path.empty() ? "-" : first.key_path, e.key_path) << e.file;
    EXPECT_NE(first.message.find(e.text), std::string::npos) << e.file << ": " << first.message;
  }
}

TEST(SpecCorpusTest, EveryCorpusFileIsListed) {
  std::set<std::string> listed;
  for (const auto& e : LoadExpectations()) listed.insert(e.file);
  for (const auto& entry : std::filesystem::directory_iterator(kDir)) {
    if (entry.path().extension() != ".yaml") continue;
    EXPECT_TRUE(listed.count(entry.path().filename().string())) << entry.path();
  }
}

}  // namespace
}  // namespace iommuvm::spec
